#include "config/config.hpp"

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

} // namespace

std::string Config::host_for_region(std::string_view r) const {
    return r == "EU" ? eu_host : us_host;
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
    if (threads <= 0) {
        unsigned cores = std::thread::hardware_concurrency();
        threads = static_cast<int>(cores == 0 ? 4 : std::max(4U, cores * 2));
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
