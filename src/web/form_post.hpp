#pragma once
// Every form POST starts the same way: who is at the browser, the fields, and a CSRF check.

#include "web/browser_sessions.hpp"

#include <boost/json/object.hpp>

#include <variant>

namespace provisiond::web {

struct FormPost {
    Visitor visitor;
    boost::json::object fields;
};

/// The visitor and fields of a POST whose CSRF token is right; otherwise the page to answer
/// (403 "form expired", or 503 when storage fails).
std::variant<FormPost, http::Response> accept_form(BrowserSessions& sessions,
                                                   const http::Request& request);

} // namespace provisiond::web
