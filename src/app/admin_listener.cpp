#include "app/admin_listener.hpp"

#include "app/probes.hpp"

#include <spdlog/sinks/null_sink.h>

namespace provisiond::app {
namespace {

Config admin_config(const Config& config) {
    Config admin = config;
    admin.listen = config.admin_listen;
    admin.threads = 1;
    admin.limits.max_connections = 64;
    admin.limits.max_connections_per_address = 0;
    return admin;
}

} // namespace

AdminListener::AdminListener(const Config& config, UnitOfWork& uow,
                             const metrics::PrometheusTelemetry& telemetry,
                             std::shared_ptr<spdlog::logger> log)
    : config_(admin_config(config)),
      // Scrapes every few seconds would drown the access log: the admin port logs no requests.
      server_(config_, router_, std::move(log),
              std::make_shared<spdlog::logger>("admin-access",
                                               std::make_shared<spdlog::sinks::null_sink_mt>())) {
    router_.add("GET", "/metrics", http::Envelope::flat, [&telemetry](http::Request&) {
        http::Response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = telemetry.exposition();
        r.set_header("Cache-Control", "no-store");
        return r;
    });
    router_.add("GET", "/_health", http::Envelope::flat,
                [](http::Request&) { return health_probe(); });
    router_.add("GET", "/_ready", http::Envelope::flat,
                [&uow](http::Request&) { return ready_probe(uow); });
}

AdminListener::~AdminListener() {
    stop();
}

Result<void> AdminListener::start() {
    RETURN_IF_ERROR(server_.bind());
    thread_ = std::thread([this] { server_.run(); });
    return {};
}

void AdminListener::stop() {
    if (thread_.joinable()) {
        server_.stop();
        thread_.join();
    }
}

} // namespace provisiond::app
