#include "core/url.hpp"

#include <boost/url/parse.hpp>

namespace provisiond {

std::optional<boost::urls::url_view> parse_absolute_url(std::string_view text) {
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) {
        return std::nullopt;
    }
    std::string_view path = parsed->encoded_path();
    if (parsed->has_authority() && !path.empty() && path.front() != '/') {
        return std::nullopt;
    }
    return *parsed;
}

} // namespace provisiond
