#include "app/app.hpp"

#include "app/routes.hpp"
#include "http/server.hpp"
#include "outbox/file_sender.hpp"
#include "storage/migrations.hpp"
#include "storage/sql_repositories.hpp"
#include "storage/sqlite/sqlite_connection.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace provisiond::app {

Loggers make_loggers(const std::string& level) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto app = std::make_shared<spdlog::logger>("provisiond", sink);
    app->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    app->set_level(spdlog::level::from_str(level));
    auto access = std::make_shared<spdlog::logger>("access", sink);
    access->set_pattern("%v");
    access->set_level(spdlog::level::info);
    return {app, access};
}

Result<std::unique_ptr<storage::Database>> open_database(const Config& config, std::size_t connections) {
    std::string path = config.database;
    auto db = std::make_unique<storage::Database>([path] { return storage::open_sqlite(path); },
                                                  connections);
    // Open one connection now so that a bad path fails at start, not at the first request.
    auto probe = db->acquire();
    if (!probe) {
        return probe.error();
    }
    return db;
}

int serve(const Config& config) {
    Loggers log = make_loggers(config.log_level);
    auto db = open_database(config, static_cast<std::size_t>(config.database_connections));
    if (!db) {
        log.app->critical("cannot open the database {}: {}", config.database, db.error().debug);
        return 1;
    }
    auto applied = storage::migrate(**db);
    if (!applied) {
        log.app->critical("database migration failed: {}", applied.error().debug);
        return 1;
    }
    for (const auto& name : *applied) {
        log.app->info("applied migration {}", name);
    }

    SystemClock clock;
    storage::SqlUnitOfWork uow(**db);
    ratelimit::PartnerRateLimiter limiter(uow, clock, config.partner_limits);
    oauth::TokenService tokens(uow, clock, limiter, config.lifetimes);
    provisioning::AccountRequestService account_requests(uow, clock, limiter, config);
    provisioning::ResourceService resources(uow, clock, limiter, config);
    provisioning::ResourcesEndpoint resources_endpoint(resources, uow, clock);

    http::Router router;
    register_routes(router, {account_requests, tokens, resources_endpoint, uow});

    outbox::FileSender sender(config.outbox_dir, config.mail_from);
    outbox::OutboxWorker mailer(uow, clock, sender, log.app, config.lifetimes.password_link_seconds);

    http::Server server(config, router, log.app, log.access);
    if (auto bound = server.bind(); !bound) {
        log.app->critical("{}", bound.error().message);
        return 1;
    }
    std::string host = config.listen.substr(0, config.listen.rfind(':'));
    if (host != "127.0.0.1" && host != "::1" && host != "[::1]" && host != "localhost") {
        log.app->warn("listening on {}: reachable from other machines; put TLS in front of it", config.listen);
    }
    log.app->info("provisiond {} listening on {}:{} (public URL {}, region {}, database {}, {} threads)",
                  PROVISIOND_VERSION, host, server.port(), config.public_url, config.region,
                  config.database, config.threads);
    mailer.start();
    server.run();
    mailer.stop();
    log.app->info("stopped");
    return 0;
}

} // namespace provisiond::app
