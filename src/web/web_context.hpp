#pragma once
// What every page handler needs, built once by the composition root.

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/unit_of_work.hpp"
#include "web/browser_sessions.hpp"
#include "web/page.hpp"

namespace provisiond::web {

struct WebContext {
    UnitOfWork& uow;
    const Clock& clock;
    const Config& config;
    BrowserSessions& sessions;
    const Pages& pages;
};

} // namespace provisiond::web
