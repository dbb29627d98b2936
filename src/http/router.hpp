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

class Router {
public:
    /// Registers `handler`; `envelope` is the error shape used for 404/405/413/… on this route.
    void add(std::string method, std::string pattern, Envelope envelope, Handler handler);

    /// Finds and runs the handler; answers 404/405 itself. Never throws: a handler's exception
    /// becomes a 500 in the route's envelope.
    Response dispatch(Request& request) const;

    /// The error envelope for a path (for failures before a handler runs, e.g. 413).
    Envelope envelope_for(std::string_view path) const;

private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;
        Envelope envelope;
        Handler handler;
    };
    static bool match(const Route& route, const std::vector<std::string_view>& segments,
                      std::vector<std::string>* params);

    std::vector<Route> routes_;
};

} // namespace provisiond::http
