#pragma once
// Every setting of provisiond, with its default. cli/ binds each to a flag, an environment
// variable PROVISIOND_<NAME> and a key in the config file; see `provisiond serve --help`.

#include <cstdint>
#include <string>
#include <vector>

namespace provisiond {

struct Limits {
    std::size_t max_body_bytes = 64 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    int request_timeout_seconds = 30; ///< to read one whole request
    int idle_timeout_seconds = 75;    ///< keep-alive connection left idle
    int max_connections = 1024;
    int max_connections_per_address = 256; ///< 0: no per-address cap
    int shutdown_grace_seconds = 10;       ///< in-flight requests get this long after SIGTERM
};

struct Lifetimes {
    std::int64_t code_seconds = 300;
    std::int64_t access_token_seconds = 3600;
    std::int64_t refresh_token_seconds = 30 * 24 * 3600;
    std::int64_t refresh_grace_seconds = 30;
    std::int64_t consent_seconds = 600;
    std::int64_t password_link_seconds = 72 * 3600;
};

/// Default partner limits per client per hour (overridable per client).
struct PartnerLimits {
    std::int64_t account_requests = 10;
    std::int64_t verified_account_requests = 100; ///< CIMD clients linked by a verification token
    std::int64_t token_exchanges = 20;
    std::int64_t resource_creates = 20;
};

/// Client ID Metadata Documents: how documents are fetched and cached (docs/CIMD.md).
struct CimdSettings {
    std::string ca_file;              ///< trust only these CAs for fetches; empty: the system store
    std::vector<std::string> resolve; ///< HOST:PORT:ADDRESS host map entries
    bool allow_loopback = false;      ///< test only
    std::int64_t min_ttl_seconds = 300;
    std::int64_t max_ttl_seconds = 86400;
    std::int64_t default_ttl_seconds = 3600;
};

/// The operator's own product, shown on every page and in every email (docs/PAGES.md).
struct Branding {
    std::string product_name = "provisiond";
    std::string logo_file; ///< PNG, JPEG, WebP or SVG, at most 256 KiB; empty: a neutral mark
    std::string accent = "#1f5eff"; ///< #rrggbb, at least 3:1 against white
    std::string support_email;      ///< shown in page footers and emails when set
    std::string dashboard_url;      ///< the product's dashboard; empty: this server's /dashboard
};

/// Webhooks (Standard Webhooks; docs/WEBHOOKS.md): the endpoint of the settings, and retries.
struct WebhookSettings {
    std::string url;                      ///< --webhook-url: every event goes here; empty: none
    std::string secret;                   ///< --webhook-secret: "whsec_" + base64, needed with url
    std::int64_t retry_base_seconds = 10; ///< first retry after this, doubling, at most 1 h
    std::string secrets_key_file; ///< seals `webhooks add` secrets; default <database>-secrets.key
};

struct Config {
    std::string listen = "127.0.0.1:8000";
    std::string admin_listen = "127.0.0.1:9100"; ///< /metrics, /_health, /_ready; "off": none
    std::string public_url;                      ///< defaults to http://<listen>
    std::string region = "US";
    std::string us_host; ///< defaults to public_url
    std::string eu_host; ///< defaults to public_url
    std::string database = "provisiond.db";
    std::string outbox_dir = "outbox";
    std::string mail_from = "provisiond <no-reply@localhost>";
    std::string smtp_url; ///< empty: write .eml files to outbox_dir
    std::string smtp_username;
    std::string smtp_password;
    std::string smtp_starttls =
        "auto"; ///< "required" | "optional" | "auto": required unless the host is loopback
    std::string smtp_ca_file;
    std::string introspection_token; ///< Bearer for /oauth/introspect; empty: introspection off
    int threads = 0;                 ///< handler threads; 0: 32, or four per core if more
    int database_connections = 0;    ///< 0: one per thread plus two
    std::string log_level = "info";
    std::string log_format = "json"; ///< "json": one object per line; "text": for a terminal
    /// Networks of the operator's proxies (CIDR); their requests' client address comes from
    /// `trusted_proxy_header`. Empty: the TCP peer is the client.
    std::vector<std::string> trusted_proxies;
    std::string trusted_proxy_header = "x-forwarded-for";
    Limits limits;
    Lifetimes lifetimes;
    PartnerLimits partner_limits;
    CimdSettings cimd;
    Branding branding;
    WebhookSettings webhooks;
    std::int64_t maintenance_interval_seconds = 300; ///< between background purge passes
    std::int64_t audit_retention_days = 90;          ///< audit events older than this go

    /// The host URL (scheme://host[:port], no trailing slash) of a region ("US" or "EU").
    std::string host_for_region(std::string_view region) const;
    /// The secrets key file (webhooks), defaulting to one next to the database.
    std::string secrets_key_path() const;
    /// Where emails and page headers send people for "your dashboard".
    std::string dashboard_url_for_region(std::string_view region) const;
    /// Fills defaults that depend on other settings; returns an error message or "".
    std::string finalize();
    /// After binding `listen` with port 0: the URLs derived from it take the port the kernel
    /// chose (an explicit --public-url is left alone).
    void use_bound_port(unsigned short port);
    bool public_url_from_listen = false; ///< public_url was derived from listen by finalize()
};

} // namespace provisiond
