#pragma once
// Routes (method, path pattern) to handlers. Patterns are literal segments and {name}
// placeholders matching one non-empty segment; a trailing slash is ignored.

#include "http/error_envelope.hpp"
#include "http/message.hpp"

#include <functional>
#include <string>
#include <vector>

namespace provisiond::http {

using Handler = std::function<Response(Request&)>;

/// The API's 404 for a path no route matches: the flat envelope, naming the path.
Response route_not_found(const Request& request);

class Router {
public:
    /// Registers `handler`; `envelope` is the error shape used for 404/405/413/… on this route.
    void add(std::string method, std::string pattern, Envelope envelope, Handler handler);

    /// Finds and runs the handler; answers 404/405 itself. Never throws: a handler's exception
    /// becomes a 500 in the route's envelope.
    Response dispatch(Request& request) const;

    /// Answers requests that no route matches (default: route_not_found's JSON 404).
    void set_not_found(Handler handler) { not_found_ = std::move(handler); }

    /// The error envelope for a path (for failures before a handler runs, e.g. 413).
    Envelope envelope_for(std::string_view path) const;

private:
    struct Route {
        std::string method;
        std::string pattern; ///< as registered: the access log's "route"
        std::vector<std::string> segments;
        Envelope envelope;
        Handler handler;
    };
    static bool match(const Route& route, const std::vector<std::string_view>& segments,
                      std::vector<std::string>* params);

    std::vector<Route> routes_;
    Handler not_found_;
};

} // namespace provisiond::http
