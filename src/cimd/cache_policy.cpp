#include "cimd/cache_policy.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

namespace provisiond::cimd {

std::int64_t freshness_seconds(std::string_view header, const CacheBounds& bounds) {
    std::string text(header);
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::optional<std::int64_t> max_age;
    bool no_cache = false;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        std::string directive =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        directive.erase(0, directive.find_first_not_of(" \t"));
        directive.erase(directive.find_last_not_of(" \t") + 1);
        if (directive == "no-cache" || directive == "no-store") {
            no_cache = true;
        } else if (directive.rfind("max-age=", 0) == 0) {
            std::string value = directive.substr(8);
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            if (!value.empty() && value.size() <= 12 &&
                std::all_of(value.begin(), value.end(),
                            [](unsigned char c) { return std::isdigit(c); })) {
                max_age = std::stoll(value);
            }
        }
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    if (no_cache) {
        return bounds.min_seconds;
    }
    if (!max_age) {
        return std::clamp(bounds.default_seconds, bounds.min_seconds, bounds.max_seconds);
    }
    return std::clamp(*max_age, bounds.min_seconds, bounds.max_seconds);
}

} // namespace provisiond::cimd
