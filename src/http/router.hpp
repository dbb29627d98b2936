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

/// Where a handler runs. A handler that may wait on storage (or on anything else) runs on the
/// server's handler pool, so that a slow or locked database never holds an I/O thread; one that
/// only computes its answer from memory (liveness, static assets, documents) runs on the I/O
/// thread, and is answered while the database is stuck.
enum class Runs { on_handler_pool, on_io_thread };

/// The API's 404 for a path no route matches: the flat envelope, naming the path.
Response route_not_found(const Request& request);

class Router {
    struct Route; // one registered route (below)

public:
    /// Registers `handler`; `envelope` is the error shape used for 404/405/413/… on this route.
    void add(std::string method, std::string pattern, Envelope envelope, Handler handler,
             Runs runs = Runs::on_handler_pool);

    /// What resolve() found: the route, or the methods the path allows (405), or nothing (404).
    struct Match {
        const Route* route = nullptr;
        std::string allowed;
        /// Where the answer is computed. 404 and 405 answers come from memory: the not-found
        /// handler must not touch storage.
        Runs runs() const;
    };

    /// Finds the route for the request and notes it there (`route`, `path_params`).
    Match resolve(Request& request) const;
    /// Runs the route's handler, or answers 404/405. Never throws: a handler's exception
    /// becomes a 500 in the route's envelope.
    Response respond(const Match& found, Request& request) const;
    /// resolve() then respond(), on the caller's thread.
    Response dispatch(Request& request) const { return respond(resolve(request), request); }

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
        Runs runs;
    };
    static bool match(const Route& route, const std::vector<std::string_view>& segments,
                      std::vector<std::string>* params);

    std::vector<Route> routes_;
    Handler not_found_;
};

} // namespace provisiond::http
