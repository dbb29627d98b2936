#include "web/cookies.hpp"

namespace provisiond::web {

std::optional<std::string> read_cookie(const http::Request& request, std::string_view name) {
    for (const auto& [header, value] : request.headers) {
        if (header != "cookie") {
            continue;
        }
        std::string_view rest = value;
        while (!rest.empty()) {
            auto semicolon = rest.find(';');
            std::string_view pair = rest.substr(0, semicolon);
            rest = semicolon == std::string_view::npos ? std::string_view()
                                                       : rest.substr(semicolon + 1);
            while (!pair.empty() && pair.front() == ' ') {
                pair.remove_prefix(1);
            }
            auto eq = pair.find('=');
            if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
                return std::string(pair.substr(eq + 1));
            }
        }
    }
    return std::nullopt;
}

std::string cookie_header(std::string_view name, std::string_view value,
                          const CookieOptions& options) {
    std::string out = std::string(name) + "=" + std::string(value) +
                      "; Path=/; HttpOnly; SameSite=" + options.same_site;
    if (options.secure) {
        out += "; Secure";
    }
    if (options.max_age_seconds >= 0) {
        out += "; Max-Age=" + std::to_string(options.max_age_seconds);
    }
    return out;
}

} // namespace provisiond::web
