#pragma once
// The admin listener (--admin-listen, default 127.0.0.1:9100): /metrics, /_health and /_ready
// on a port of their own, off the public one, as Keycloak's management port and Hydra's admin
// port. It runs its own small server on its own thread; the public /_health and /_ready stay.

#include "config/config.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "metrics/prometheus_telemetry.hpp"
#include "storage/unit_of_work.hpp"

#include <memory>
#include <thread>

namespace provisiond::app {

class AdminListener {
public:
    AdminListener(const Config& config, UnitOfWork& uow,
                  const metrics::PrometheusTelemetry& telemetry,
                  std::shared_ptr<spdlog::logger> log);
    ~AdminListener();

    /// Binds --admin-listen and serves on a thread of its own; fails naming the address.
    Result<void> start();
    /// Stops serving (also on SIGTERM, like the public server) and joins the thread.
    void stop();
    unsigned short port() const { return server_.port(); }

private:
    Config config_; ///< a copy: its own listen address, one thread
    http::Router router_;
    http::Server server_;
    std::thread thread_;
};

} // namespace provisiond::app
