#include "web/form_post.hpp"

#include "http/body.hpp"
#include "web/form.hpp"
#include "web/page.hpp"

namespace provisiond::web {

std::variant<FormPost, http::Response> accept_form(BrowserSessions& sessions,
                                                   const http::Request& request) {
    auto visitor = sessions.identify(request);
    if (!visitor) {
        return storage_trouble_page(visitor.error());
    }
    auto form = http::parse_body(request);
    if (!form || !sessions.csrf_ok(request, form_field(*form, "csrf"))) {
        return form_expired_page();
    }
    return FormPost{std::move(*visitor), std::move(*form)};
}

} // namespace provisiond::web
