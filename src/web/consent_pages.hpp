#pragma once
// The consent page (`/api/agentic/authorize?state=…`, also where /oauth/authorize leads), the
// account-mismatch page, and the partner logo we serve (docs/PAGES.md).

#include "web/web_context.hpp"

namespace provisiond::web {

class ConsentPages {
public:
    explicit ConsentPages(WebContext context) : c_(context) {}

    http::Response show_consent(const http::Request& request);
    http::Response decide(const http::Request& request);
    http::Response show_mismatch(const http::Request& request);
    http::Response logo(const http::Request& request);

private:
    WebContext c_;
};

} // namespace provisiond::web
