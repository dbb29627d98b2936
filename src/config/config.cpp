#include "config/config.hpp"

#include "core/color.hpp"
#include "core/unicode.hpp"

#include <cstdio>
#include <thread>

namespace provisiond {
namespace {

std::string without_trailing_slash(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url;
}

bool is_http_url(const std::string& url) {
    return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

/// The number of bytes standard base64 `text` decodes to; 0 when it is not base64.
std::size_t base64_decoded_size(const std::string& text) {
    if (text.empty() || text.size() % 4 != 0) {
        return 0;
    }
    std::size_t padding = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (c == '=' && i + 2 >= text.size()) {
            ++padding;
        } else if (!alphabet || padding > 0) {
            return 0;
        }
    }
    return text.size() / 4 * 3 - padding;
}

/// True when the text has no space or control character (one token of a header or a URL).
bool is_one_token(std::string_view text) {
    for (unsigned char c : text) {
        if (c <= 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/// The branding settings' rules; an error message or "".
std::string check_branding(const Branding& b) {
    if (b.product_name.empty() || clean_display_text(b.product_name, 60) != b.product_name) {
        return "brand-name must be 1 to 60 characters of one line, without invisible characters";
    }
    auto accent = parse_hex_color(b.accent);
    if (!accent) {
        return "brand-accent must be a colour as #rrggbb, e.g. #1f5eff";
    }
    double contrast = contrast_ratio(*accent, {255, 255, 255});
    if (contrast < 3.0) {
        char ratio[16];
        std::snprintf(ratio, sizeof ratio, "%.1f", contrast);
        return "brand-accent " + b.accent + " has " + ratio +
               ":1 contrast against white; buttons, links and the focus ring need at least 3:1 "
               "(WCAG 1.4.11): choose a darker colour";
    }
    auto at = b.support_email.find('@');
    if (!b.support_email.empty() &&
        (b.support_email.size() > 254 || !is_one_token(b.support_email) ||
         at == std::string::npos || at == 0 || at + 1 == b.support_email.size() ||
         b.support_email.find_first_of("<>\"(),;:") != std::string::npos)) {
        return "support-email must be one plain address, e.g. help@example.com";
    }
    if (!b.dashboard_url.empty() &&
        (!is_http_url(b.dashboard_url) || !is_one_token(b.dashboard_url))) {
        return "dashboard-url must be an http:// or https:// URL";
    }
    if (!b.logo_file.empty()) {
        bool known = false;
        for (std::string_view ext : {".png", ".jpg", ".jpeg", ".webp", ".svg"}) {
            known = known || b.logo_file.ends_with(ext);
        }
        if (!known) {
            return "brand-logo must be a .png, .jpg, .jpeg, .webp or .svg file";
        }
    }
    return "";
}

/// The webhook settings' rules; an error message or "".
std::string check_webhooks(const WebhookSettings& w) {
    if (w.url.empty() != w.secret.empty()) {
        return "webhook-url and webhook-secret go together: set both (the secret as whsec_ "
               "followed by base64, e.g. from `openssl rand -base64 32`), or neither";
    }
    if (!w.url.empty() && (!is_http_url(w.url) || !is_one_token(w.url))) {
        return "webhook-url must be an http:// or https:// URL";
    }
    if (!w.secret.empty()) {
        auto key = w.secret.rfind("whsec_", 0) == 0 ? base64_decoded_size(w.secret.substr(6)) : 0;
        if (key < 16 || key > 64) {
            return "webhook-secret must be whsec_ followed by the base64 of 16 to 64 random bytes "
                   "(e.g. whsec_$(openssl rand -base64 32))";
        }
    }
    if (w.retry_base_seconds < 1 || w.retry_base_seconds > 3600) {
        return "webhook-retry-seconds must be 1 to 3600";
    }
    return "";
}

} // namespace

std::string Config::host_for_region(std::string_view r) const {
    return r == "EU" ? eu_host : us_host;
}

std::string Config::secrets_key_path() const {
    if (!webhooks.secrets_key_file.empty()) {
        return webhooks.secrets_key_file;
    }
    // Beside a SQLite file; a PostgreSQL URL names no directory, so the working directory
    // (every process of a PostgreSQL deployment must be given the same file).
    return database.find("://") == std::string::npos ? database + "-secrets.key"
                                                     : "provisiond-secrets.key";
}

std::string Config::dashboard_url_for_region(std::string_view r) const {
    return branding.dashboard_url.empty() ? host_for_region(r) + "/dashboard"
                                          : branding.dashboard_url;
}

void Config::use_bound_port(unsigned short port) {
    if (!public_url_from_listen) {
        return;
    }
    std::string derived = public_url;
    public_url = derived.substr(0, derived.rfind(':') + 1) + std::to_string(port);
    for (auto* host : {&us_host, &eu_host}) {
        if (*host == derived) {
            *host = public_url;
        }
    }
}

std::string Config::finalize() {
    if (region != "US" && region != "EU") {
        return "region must be US or EU";
    }
    if (!smtp_url.empty() && smtp_url.rfind("smtp://", 0) != 0 &&
        smtp_url.rfind("smtps://", 0) != 0) {
        return "smtp-url must start with smtp:// or smtps://";
    }
    if (smtp_starttls != "required" && smtp_starttls != "optional" && smtp_starttls != "auto") {
        return "smtp-starttls must be auto, required or optional";
    }
    if (audit_retention_days < 1) {
        return "audit-retention-days must be at least 1";
    }
    if (maintenance_interval_seconds < 1) {
        return "maintenance-interval-seconds must be at least 1";
    }
    if (log_format != "json" && log_format != "text") {
        return "log-format must be json or text";
    }
    if (cimd.min_ttl_seconds < 1 || cimd.max_ttl_seconds < cimd.min_ttl_seconds) {
        return "cimd-min-ttl-seconds must be at least 1 and at most cimd-max-ttl-seconds";
    }
    if (public_url.empty()) {
        // A wildcard bind is not an address a browser can use: default to loopback, and let the
        // operator set --public-url for anything else.
        std::string host_port = listen;
        for (std::string_view wildcard : {"0.0.0.0:", "[::]:"}) {
            if (host_port.rfind(wildcard, 0) == 0) {
                host_port = "127.0.0.1:" + host_port.substr(wildcard.size());
            }
        }
        public_url = "http://" + host_port;
        public_url_from_listen = true;
    }
    public_url = without_trailing_slash(public_url);
    us_host = without_trailing_slash(us_host.empty() ? public_url : us_host);
    eu_host = without_trailing_slash(eu_host.empty() ? public_url : eu_host);
    for (const auto* url : {&public_url, &us_host, &eu_host}) {
        if (!is_http_url(*url)) {
            return "public-url, us-host and eu-host must start with http:// or https://";
        }
    }
    if (auto problem = check_webhooks(webhooks); !problem.empty()) {
        return problem;
    }
    branding.dashboard_url = without_trailing_slash(branding.dashboard_url);
    if (auto problem = check_branding(branding); !problem.empty()) {
        return problem;
    }
    if (threads <= 0) {
        unsigned cores = std::thread::hardware_concurrency();
        // Handler threads mostly wait (on the database, on the group commit): more of them
        // means bigger commit batches under load (measured: 32 clients, 8 threads 3.4k req/s,
        // 32 threads 5.1k req/s, docs/PERFORMANCE.md).
        threads = static_cast<int>(std::max(32U, cores * 4));
    }
    if (database_connections <= 0) {
        database_connections = threads + 2;
    }
    if (lifetimes.code_seconds <= 0 || lifetimes.access_token_seconds <= 0 ||
        lifetimes.refresh_token_seconds <= 0 || lifetimes.consent_seconds <= 0 ||
        lifetimes.refresh_grace_seconds < 0) {
        return "lifetimes must be positive";
    }
    return "";
}

} // namespace provisiond
