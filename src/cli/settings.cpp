#include "cli/settings.hpp"

#include <fstream>

namespace provisiond::cli {
namespace {

std::string env_name(const std::string& flag) {
    std::string out = "PROVISIOND_";
    for (char c : flag) {
        out.push_back(c == '-' ? '_'
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

template <class T>
void setting(CLI::App& cmd, const std::string& name, T& target, const std::string& help) {
    cmd.add_option("--" + name, target, help)->envname(env_name(name))->capture_default_str();
}

} // namespace

void add_settings(CLI::App& cmd, Config& c, SettingScope scope) {
    cmd.add_option("--config", "A settings file of `key = value` lines; keys are the long flag "
                               "names without dashes in front (e.g. `listen = 127.0.0.1:8000`)")
        ->envname("PROVISIOND_CONFIG");
    setting(cmd, "database", c.database,
            "Path of the SQLite database file (`serve` and `migrate` create it if missing; every "
            "other command refuses a missing file), or a PostgreSQL URL "
            "(`postgresql://user:password@host:5432/dbname`): the URL selects PostgreSQL");
    setting(cmd, "secrets-key-file", c.webhooks.secrets_key_file,
            "File holding the key that seals webhook signing secrets in the database (created by "
            "`webhooks add`, mode 0600; back it up with the database). Default: "
            "<database>-secrets.key");
    if (scope == SettingScope::storage) {
        return;
    }
    setting(cmd, "listen", c.listen,
            "Address and port to listen on. The default serves this machine only; use 0.0.0.0:PORT "
            "behind a TLS-terminating proxy to serve others");
    setting(cmd, "admin-listen", c.admin_listen,
            "Address and port of the admin listener: /metrics (Prometheus), /_health and /_ready, "
            "off the public port. Keep it private (the default serves this machine only); `off` "
            "turns it off");
    setting(
        cmd, "public-url", c.public_url,
        "The URL partners and browsers reach this server at (scheme://host[:port]); builds every "
        "URL the server returns. Default: http://<listen>");
    setting(cmd, "region", c.region, "This deployment's region: US or EU");
    setting(
        cmd, "us-host", c.us_host,
        "Host URL of the US region (access_configuration.host, consent URLs). Default: public-url");
    setting(cmd, "eu-host", c.eu_host, "Host URL of the EU region. Default: public-url");
    setting(cmd, "outbox-dir", c.outbox_dir,
            "Directory where outgoing emails are written as .eml files");
    setting(cmd, "mail-from", c.mail_from, "Sender of outgoing emails");
    setting(cmd, "smtp-url", c.smtp_url,
            "Send email over SMTP: smtp://host:port (STARTTLS when offered) or smtps://host:port "
            "(TLS). "
            "Default: none, emails are written to --outbox-dir");
    setting(cmd, "smtp-username", c.smtp_username, "SMTP user name (no authentication when empty)");
    setting(cmd, "smtp-password", c.smtp_password,
            "SMTP password (prefer PROVISIOND_SMTP_PASSWORD to a flag)");
    setting(
        cmd, "smtp-starttls", c.smtp_starttls,
        "For smtp://: `required` refuses to send without STARTTLS; `optional` uses it when "
        "offered; "
        "`auto` is required unless the SMTP host is loopback (set-password links must not cross a "
        "network in clear)");
    setting(cmd, "smtp-ca-file", c.smtp_ca_file,
            "PEM file of the CAs trusted for the SMTP server's certificate");
    setting(cmd, "introspection-token", c.introspection_token,
            "Bearer token that resource servers present to POST /oauth/introspect (RFC 7662); "
            "introspection is off when empty");
    setting(cmd, "threads", c.threads,
            "Threads running request handlers (they wait on the database; the network is served "
            "by one I/O thread per core); 0 = 32, or four per core if that is more");
    setting(cmd, "database-connections", c.database_connections,
            "Database connection pool size; 0 = threads + 2");
    setting(cmd, "log-level", c.log_level, "trace, debug, info, warn, error or critical");
    setting(cmd, "log-format", c.log_format,
            "json: every log line one JSON object (time, level, message; requests add request_id, "
            "route, status, duration_ms, client_id …); text: one readable line, for a terminal");
    setting(cmd, "max-body-bytes", c.limits.max_body_bytes,
            "Largest request body accepted (413 above)");
    setting(cmd, "max-header-bytes", c.limits.max_header_bytes,
            "Largest request header block accepted (431 above)");
    setting(cmd, "request-timeout-seconds", c.limits.request_timeout_seconds,
            "Time allowed to receive one whole request (slow senders are cut off)");
    setting(cmd, "idle-timeout-seconds", c.limits.idle_timeout_seconds,
            "How long an idle keep-alive connection stays open");
    setting(cmd, "max-connections", c.limits.max_connections,
            "Open connections at most; more are refused. Kept below the descriptor limit: at start "
            "the soft RLIMIT_NOFILE is raised to the hard one and descriptors are reserved for "
            "the database, metadata fetches and mail");
    setting(cmd, "max-connections-per-address", c.limits.max_connections_per_address,
            "Open connections at most from one client address, so one address cannot hold every "
            "slot (trusted proxies are exempt); 0 = no cap");
    cmd.add_option("--trusted-proxies", c.trusted_proxies,
                   "CIDR blocks or addresses of the proxies in front of this server (e.g. "
                   "127.0.0.1,10.0.0.0/8; repeatable; comma-separated in the environment). A "
                   "request from one of them is attributed to the right-most untrusted address "
                   "of --trusted-proxy-header, for every per-address limit and the logs. Default: "
                   "none, the TCP peer is the client")
        ->envname(env_name("trusted-proxies"))
        ->delimiter(',');
    setting(cmd, "trusted-proxy-header", c.trusted_proxy_header,
            "Where trusted proxies put the client address: x-forwarded-for, or forwarded "
            "(RFC 7239). Name the one your proxy sets: the other is whatever clients sent");
    setting(cmd, "shutdown-grace-seconds", c.limits.shutdown_grace_seconds,
            "On SIGTERM/SIGINT, how long in-flight requests may take to finish");
    setting(cmd, "code-ttl-seconds", c.lifetimes.code_seconds, "Lifetime of an authorization code");
    setting(cmd, "access-token-ttl-seconds", c.lifetimes.access_token_seconds,
            "Lifetime of an access token (expires_in)");
    setting(cmd, "refresh-token-ttl-seconds", c.lifetimes.refresh_token_seconds,
            "Lifetime of a refresh token");
    setting(cmd, "refresh-grace-seconds", c.lifetimes.refresh_grace_seconds,
            "Window in which a just-rotated refresh token may be presented once more (a lost "
            "response) without revoking its family; 0 disables");
    setting(cmd, "consent-ttl-seconds", c.lifetimes.consent_seconds,
            "Lifetime of a requires_auth consent URL");
    setting(cmd, "password-link-ttl-seconds", c.lifetimes.password_link_seconds,
            "Lifetime of the set-password link in welcome emails");
    setting(cmd, "limit-account-requests", c.partner_limits.account_requests,
            "Default account_requests per client per hour (overridable per client)");
    setting(cmd, "limit-token-exchanges", c.partner_limits.token_exchanges,
            "Default token exchanges and refreshes per client per hour");
    setting(cmd, "limit-resource-creates", c.partner_limits.resource_creates,
            "Default resource creations per client per hour");
    setting(
        cmd, "limit-verified-account-requests", c.partner_limits.verified_account_requests,
        "account_requests per hour for metadata-document clients linked to an organization by a "
        "verification token (unverified ones get --limit-account-requests)");
    add_cimd_settings(cmd, c);
    add_branding_settings(cmd, c);
    setting(cmd, "maintenance-interval-seconds", c.maintenance_interval_seconds,
            "Seconds between background passes that delete expired codes, tokens, consent states, "
            "sessions and links, old rate-limit windows, and emails and webhooks delivered a week "
            "ago, in small batches");
    setting(cmd, "audit-retention-days", c.audit_retention_days,
            "Audit events (`provisiond audit`) older than this many days are deleted by "
            "maintenance");
    setting(cmd, "webhook-url", c.webhooks.url,
            "Send every webhook event (Standard Webhooks) to this URL; more endpoints, each with "
            "an event filter: `provisiond webhooks add`");
    setting(cmd, "webhook-secret", c.webhooks.secret,
            "Signing secret of --webhook-url: whsec_ + base64 of 16-64 random bytes, e.g. "
            "whsec_$(openssl rand -base64 32) (prefer PROVISIOND_WEBHOOK_SECRET to a flag)");
    setting(cmd, "webhook-retry-seconds", c.webhooks.retry_base_seconds,
            "A failed webhook delivery is retried after this many seconds, doubling each time, at "
            "most hourly, until the endpoint answers 2xx");
}

void add_branding_settings(CLI::App& cmd, Config& c) {
    auto& b = c.branding;
    setting(cmd, "brand-name", b.product_name,
            "Your product's name, shown in every page's title, header and footer and in every "
            "email");
    setting(cmd, "brand-logo", b.logo_file,
            "A logo file (.png, .jpg, .webp or .svg, at most 256 KiB, about 28 px high on pages) "
            "shown before the product name on pages and at the top of emails. Default: a neutral "
            "mark");
    setting(cmd, "brand-accent", b.accent,
            "Accent colour of buttons, links and the focus ring, as #rrggbb; must reach 3:1 "
            "against white (button text switches to black when white would fall under 4.5:1)");
    setting(cmd, "support-email", b.support_email,
            "Where people write for help; shown in page footers and emails when set");
    setting(cmd, "dashboard-url", b.dashboard_url,
            "Your product's dashboard, linked from the page header and from welcome emails. "
            "Default: <public-url>/dashboard");
}

void add_email_settings(CLI::App& cmd, Config& c) {
    setting(cmd, "public-url", c.public_url,
            "The URL `serve` is reached at; the email's links point there. Default: "
            "http://<listen>. Give the same settings as `serve` (the same --config file)");
    setting(cmd, "listen", c.listen, "`serve`'s listen address, only for --public-url's default");
    setting(cmd, "password-link-ttl-seconds", c.lifetimes.password_link_seconds,
            "Lifetime of the link, as the email states it (`serve` mints the link with its own)");
    add_branding_settings(cmd, c);
}

void add_cimd_settings(CLI::App& cmd, Config& c) {
    setting(
        cmd, "cimd-ca-file", c.cimd.ca_file,
        "PEM file of the certificate authorities trusted when fetching client metadata documents; "
        "when set, only these are trusted. Default: the system's trust store");
    cmd.add_option(
           "--cimd-resolve", c.cimd.resolve,
           "HOST:PORT:ADDRESS: fetch documents of HOST:PORT from ADDRESS instead of resolving HOST "
           "(like curl --resolve; repeatable; comma-separated in the environment). The address is "
           "still vetted")
        ->envname(env_name("cimd-resolve"))
        ->delimiter(',');
    cmd.add_flag(
           "--cimd-allow-loopback", c.cimd.allow_loopback,
           "TESTS ONLY: let document fetches reach 127.0.0.0/8 and ::1. Never in production: it "
           "lets anyone make this server call services on its own machine")
        ->envname(env_name("cimd-allow-loopback"));
    setting(cmd, "cimd-min-ttl-seconds", c.cimd.min_ttl_seconds,
            "Shortest time a fetched metadata document is used before it is refreshed");
    setting(cmd, "cimd-max-ttl-seconds", c.cimd.max_ttl_seconds,
            "Longest time a fetched metadata document is used");
    setting(cmd, "cimd-default-ttl-seconds", c.cimd.default_ttl_seconds,
            "How long a document without Cache-Control: max-age is used");
}

std::string read_config_file(const std::string& path, std::map<std::string, std::string>& out) {
    std::ifstream in(path);
    if (!in) {
        return "cannot read the config file " + path;
    }
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        auto trim = [](std::string s) {
            auto b = s.find_first_not_of(" \t\r");
            auto e = s.find_last_not_of(" \t\r");
            return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
        };
        line = trim(line);
        if (line.empty() || line[0] == '#' || line[0] == '[') {
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string::npos) {
            return path + ":" + std::to_string(number) + ": expected `key = value`";
        }
        std::string key = trim(line.substr(0, eq));
        std::string value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        for (auto& ch : key) {
            if (ch == '_') {
                ch = '-';
            }
        }
        out[key] = value;
    }
    return "";
}

std::string apply_config_file(CLI::App& cmd, const std::map<std::string, std::string>& values,
                              const std::string& path) {
    for (const auto& [key, value] : values) {
        CLI::Option* opt = nullptr;
        try {
            opt = cmd.get_option("--" + key);
        } catch (const CLI::OptionNotFound&) {
            opt = nullptr;
        }
        if (opt == nullptr || key == "config") {
            return "unknown setting `" + key + "` in " + path + " (see --help for the settings)";
        }
        opt->default_val(value);
    }
    return "";
}

} // namespace provisiond::cli
