#include "web/form_post.hpp"

#include "http/body.hpp"
#include "web/form.hpp"
#include "web/page.hpp"

namespace provisiond::web {

std::variant<FormPost, http::Response> accept_form(const WebContext& c,
                                                   const http::Request& request) {
    auto visitor = c.sessions.identify(request);
    if (!visitor) {
        return c.pages.storage_trouble(visitor.error());
    }
    auto form = http::parse_body(request);
    if (!form || !c.sessions.csrf_ok(request, form_field(*form, "csrf"))) {
        return c.pages.form_expired();
    }
    return FormPost{std::move(*visitor), std::move(*form)};
}

std::variant<Visitor, http::Response> signed_in_visitor(const WebContext& c,
                                                        const http::Request& request) {
    auto visitor = c.sessions.identify(request);
    if (!visitor) {
        return c.pages.storage_trouble(visitor.error());
    }
    if (!visitor->user) {
        std::string here = request.path + (request.query.empty() ? "" : "?" + request.query);
        return redirect("/login?next=" + url_encode(here));
    }
    return std::move(*visitor);
}

} // namespace provisiond::web
