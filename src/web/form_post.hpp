#pragma once
// Every form POST starts the same way: who is at the browser, the fields, and a CSRF check;
// every signed-in page the same way: who is at the browser, or off to the login page.

#include "web/web_context.hpp"

#include <boost/json/object.hpp>

#include <variant>

namespace provisiond::web {

struct FormPost {
    Visitor visitor;
    boost::json::object fields;
};

/// The visitor and fields of a POST whose CSRF token is right; otherwise the page to answer
/// (403 "form expired", or 503 when storage fails).
std::variant<FormPost, http::Response> accept_form(const WebContext& context,
                                                   const http::Request& request);

/// The signed-in visitor of a page, or the response to send instead: a redirect to the login
/// page that comes back here, or 503 when storage fails.
std::variant<Visitor, http::Response> signed_in_visitor(const WebContext& context,
                                                        const http::Request& request);

} // namespace provisiond::web
