#pragma once
// HTTP/1.1 server on Boost.Beast: one coroutine per connection on a pool of threads, keep-alive,
// limits on headers, body, time and connections, a JSON access-log line per request, and a
// graceful stop (SIGTERM/SIGINT): stop accepting, let in-flight requests finish, close idle
// connections, exit.

#include "config/config.hpp"
#include "core/telemetry.hpp"
#include "http/client_address.hpp"
#include "http/router.hpp"

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <vector>

namespace provisiond::http {

class Server {
public:
    Server(const Config& config, const Router& router, std::shared_ptr<spdlog::logger> log,
           std::shared_ptr<spdlog::logger> access_log);
    ~Server();

    /// Connections from the trusted networks are proxies: the client address of their requests
    /// is read from the header they set, and the per-address cap skips them. Call before run().
    void trust_proxies(ProxySettings proxies);
    /// Requests are counted and timed there (provisiond_http_requests_total, …). Call before
    /// run(); without it nothing is reported.
    void report_to(Telemetry& telemetry);
    /// Binds the listening socket; fails with a message naming the address.
    Result<void> bind();
    /// The bound port (after bind()).
    unsigned short port() const;
    /// Serves until SIGTERM/SIGINT or stop(); returns when every connection is closed.
    void run();
    /// Begins a graceful stop (thread-safe).
    void stop();

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace provisiond::http
