#include "app/app.hpp"

#include "app/admin_listener.hpp"
#include "app/database_backend.hpp"
#include "app/logging.hpp"
#include "app/routes.hpp"
#include "app/systemd_notify.hpp"
#include "audit/audit_shipper.hpp"
#include "cimd/client_registrar.hpp"
#include "http/descriptor_budget.hpp"
#include "http/server.hpp"
#include "maintenance/sweeper.hpp"
#include "outbox/file_sender.hpp"
#include "outbox/outbox_worker.hpp"
#include "outbox/smtp_sender.hpp"
#include "storage/migrations.hpp"
#include "storage/sql_repositories.hpp"
#include "webhooks/secrets_key.hpp"
#include "webhooks/webhook_worker.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace provisiond::app {

Result<std::unique_ptr<storage::Database>> open_database(const Config& config,
                                                         std::size_t connections) {
    auto db = app::open_storage(config.database, connections);
    // Open one connection now so that a bad path fails at start, not at the first request.
    RETURN_IF_ERROR(db->acquire());
    return db;
}

Result<std::unique_ptr<storage::Database>>
open_migrated_database(const Config& config, std::size_t connections,
                       std::vector<std::string>* applied, std::vector<std::string>* warnings) {
    auto db = open_database(config, connections);
    if (!db) {
        return make_error(db.error().code, "cannot open the database " +
                                               app::display_name(config.database) + ": " +
                                               db.error().debug);
    }
    auto migrated = storage::migrate(**db, warnings);
    if (!migrated) {
        return make_error(migrated.error().code,
                          "database migration failed: " + migrated.error().debug);
    }
    if (applied) {
        *applied = *migrated;
    }
    return db;
}

Result<cimd::FetchSettings> fetch_settings(const Config& config) {
    cimd::FetchSettings settings;
    settings.policy.allow_loopback = config.cimd.allow_loopback;
    settings.ca_file = config.cimd.ca_file;
    settings.user_agent = "provisiond-cimd/1.0";
    if (!config.public_url.empty()) {
        settings.user_agent += " (+" + config.public_url + ")";
    }
    if (auto problem = cimd::parse_host_map(config.cimd.resolve, settings.host_map);
        !problem.empty()) {
        return make_error(ErrorCode::invalid_request, "--cimd-resolve: " + problem);
    }
    return settings;
}

/// STARTTLS is required unless the operator said optional, or (auto) the server is on loopback.
bool smtp_requires_tls(const Config& config) {
    if (config.smtp_starttls != "auto") {
        return config.smtp_starttls == "required";
    }
    for (std::string_view loopback : {"smtp://127.", "smtp://localhost", "smtp://[::1]"}) {
        if (config.smtp_url.rfind(loopback, 0) == 0) {
            return false;
        }
    }
    return true;
}

int serve(Config config) {
    Loggers log = make_loggers(config.log_level, config.log_format);
    // Settings first: a typo must not leave a fresh database behind.
    auto proxies = http::parse_proxy_settings(config.trusted_proxies, config.trusted_proxy_header);
    if (!proxies) {
        log.app->critical("{}", proxies.error().message);
        return 2;
    }
    auto look = web::PageLook::load(config.branding);
    if (!look) {
        log.app->critical("{}", look.error().message);
        return 2;
    }
    std::vector<std::string> applied;
    std::vector<std::string> warnings;
    auto db = open_migrated_database(config, static_cast<std::size_t>(config.database_connections),
                                     &applied, &warnings);
    if (!db) {
        log.app->critical("{}", db.error().message);
        return 1;
    }
    for (const auto& name : applied) {
        log.app->info("applied migration {}", name);
    }
    for (const auto& warning : warnings) {
        log.app->warn("migration {}", warning);
    }

    auto fetching = fetch_settings(config);
    if (!fetching) {
        log.app->critical("{}", fetching.error().message);
        return 2;
    }
    if (config.cimd.allow_loopback) {
        log.app->warn(
            "--cimd-allow-loopback is ON: client metadata documents may be fetched from this "
            "machine's loopback addresses. This is for tests only; never run production like this");
    }

    SystemClock clock;
    // Every part reports to one registry, exposed on the admin listener.
    metrics::PrometheusTelemetry telemetry;
    (*db)->report_to(telemetry);
    storage::SqlUnitOfWork uow(**db);
    ratelimit::PartnerRateLimiter limiter(uow, clock, config.partner_limits);
    oauth::TokenService tokens(uow, clock, limiter, config.lifetimes);
    std::atomic<bool> stop_fetches{false};
    cimd::CurlDocumentFetcher fetcher(*fetching, &stop_fetches);
    cimd::ClientRegistrar registrar(uow, clock, fetcher,
                                    {config.cimd.min_ttl_seconds, config.cimd.max_ttl_seconds,
                                     config.cimd.default_ttl_seconds, 60},
                                    log.app, 2, std::max(1, config.threads / 2));
    provisioning::AccountRequestService account_requests(uow, clock, registrar, limiter, config);
    provisioning::ResourceService resources(uow, clock, limiter, config);
    provisioning::ResourcesEndpoint resources_endpoint(resources, uow, clock);

    web::BrowserSessions sessions(uow, clock, config);
    web::Pages pages(std::move(*look));
    web::WebContext web_context{uow, clock, config, sessions, pages};
    web::AccountPages account_pages(web_context);
    web::ConsentPages consent_pages(web_context);
    web::DashboardPages dashboard(web_context);
    web::PasswordPages password_pages(web_context);
    web::AuthorizeEndpoint authorize(web_context, registrar);

    http::Router router;
    Endpoints endpoints{
        account_requests, tokens,        resources_endpoint, registrar, uow,       clock,
        config,           account_pages, consent_pages,      dashboard, authorize, pages,
        password_pages};
    register_routes(router, endpoints);

    std::unique_ptr<outbox::Sender> sender;
    if (config.smtp_url.empty()) {
        sender = std::make_unique<outbox::FileSender>(config.outbox_dir, config.mail_from);
    } else {
        sender = std::make_unique<outbox::SmtpSender>(outbox::SmtpSettings{
            config.smtp_url, config.mail_from, config.smtp_username, config.smtp_password,
            smtp_requires_tls(config), config.smtp_ca_file, 30000});
    }
    outbox::OutboxWorker mailer(uow, clock, *sender, log.app,
                                config.lifetimes.password_link_seconds);

    // The secrets key opens the signing secrets of `webhooks add` endpoints; without the file
    // (no endpoint was ever added) only --webhook-url is served.
    webhooks::WorkerSettings hook_settings{config.webhooks.url, config.webhooks.secret,
                                           config.secrets_key_path(),
                                           config.webhooks.retry_base_seconds, 10000};
    if (auto key = webhooks::load_secrets_key(config.secrets_key_path(), false);
        !key && key.error().code != ErrorCode::not_found) {
        log.app->critical("{}", key.error().message); // a damaged key file: say so at start
        return 2;
    }
    webhooks::WebhookWorker hooks(uow, clock, std::move(hook_settings), log.app);
    maintenance::Retention retention;
    retention.refresh_grace_seconds = config.lifetimes.refresh_grace_seconds;
    retention.audit_seconds = config.audit_retention_days * 24 * 3600;
    audit::AuditShipper audit_log(uow, clock, log.app);
    maintenance::Sweeper sweeper(uow, clock, retention, config.maintenance_interval_seconds,
                                 log.app);

    // Connections may not eat the descriptors that the database, metadata fetches and mail need.
    int fetch_workers = 2 + std::max(1, config.threads / 2);
    int admin_connections = config.admin_listen == "off" ? 0 : 65; // its 64, and its socket
    int reserved = 3 * config.database_connections + fetch_workers + 2 + 32 + admin_connections;
    auto descriptors = http::plan_descriptors(config.limits.max_connections, reserved);
    int wanted_connections = config.limits.max_connections;
    config.limits.max_connections = descriptors.max_connections; // everything below sees the cap
    log.app->info("descriptor limit {} (was {}); serving at most {} connections (--max-connections "
                  "{}), {} per address, {} descriptors reserved for storage, fetches and mail",
                  descriptors.soft_limit, descriptors.soft_limit_before,
                  descriptors.max_connections, wanted_connections,
                  config.limits.max_connections_per_address, descriptors.reserved);
    if (descriptors.max_connections < wanted_connections) {
        log.app->warn("--max-connections {} does not fit below the descriptor limit {}: capped at "
                      "{}; raise `ulimit -n` (LimitNOFILE=) to serve more",
                      wanted_connections, descriptors.soft_limit, descriptors.max_connections);
    }

    http::Server server(config, router, log.app, log.access);
    server.trust_proxies(std::move(*proxies));
    if (auto bound = server.bind(); !bound) {
        log.app->critical("{}", bound.error().message);
        return 1;
    }
    config.use_bound_port(server.port()); // --listen HOST:0: URLs name the port actually bound
    std::string host = config.listen.substr(0, config.listen.rfind(':'));
    if (host != "127.0.0.1" && host != "::1" && host != "[::1]" && host != "localhost") {
        log.app->warn("listening on {}: reachable from other machines; put TLS in front of it",
                      config.listen);
    }
    log.app->info(
        "provisiond {} listening on {}:{} (public URL {}, region {}, database {}, {} threads)",
        PROVISIOND_VERSION, host, server.port(), config.public_url, config.region,
        app::display_name(config.database), config.threads);
    std::optional<AdminListener> admin;
    if (config.admin_listen != "off") {
        admin.emplace(config, uow, telemetry, log.app);
        if (auto bound = admin->start(); !bound) {
            log.app->critical("admin listener: {} (set --admin-listen to a free address, or off)",
                              bound.error().message);
            return 1;
        }
        log.app->info("admin listener on {}:{} (/metrics, /_health, /_ready)",
                      config.admin_listen.substr(0, config.admin_listen.rfind(':')), admin->port());
    }
    limiter.report_to(telemetry);
    tokens.report_to(telemetry);
    account_requests.report_to(telemetry);
    registrar.report_to(telemetry);
    mailer.report_to(telemetry);
    hooks.report_to(telemetry);
    sweeper.report_to(telemetry);
    server.report_to(telemetry);
    mailer.start();
    hooks.start();
    sweeper.start();
    audit_log.start();
    notify_ready("listening on " + host + ":" + std::to_string(server.port()));
    server.run();
    notify_stopping();
    stop_fetches = true;
    registrar.stop();
    mailer.stop();
    hooks.stop();
    sweeper.stop();
    audit_log.stop();
    if (admin) {
        admin->stop();
    }
    log.app->info("stopped");
    return 0;
}

} // namespace provisiond::app
