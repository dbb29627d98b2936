#pragma once
// POST /api/agentic/provisioning/deep_links: a single-use, 10-minute link that logs the token's
// user in and lands them on a path in their project (posthog-behavior.md §3.12, docs/PAGES.md).

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/unit_of_work.hpp"
#include "http/message.hpp"

namespace provisiond::web {

inline constexpr std::int64_t deep_link_lifetime_seconds = 600;

http::Response handle_deep_links(UnitOfWork& uow, const Clock& clock, const Config& config,
                                 const http::Request& request);

} // namespace provisiond::web
