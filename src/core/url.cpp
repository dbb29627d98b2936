#include "core/url.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

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

std::string append_query(std::string_view uri,
                         const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out(uri);
    char separator = out.find('?') == std::string::npos ? '?' : '&';
    if (!out.empty() && (out.back() == '?' || out.back() == '&')) {
        separator = '\0';
    }
    for (const auto& [key, value] : params) {
        if (separator != '\0') {
            out.push_back(separator);
        }
        separator = '&';
        out += boost::urls::encode(key, boost::urls::unreserved_chars);
        out.push_back('=');
        out += boost::urls::encode(value, boost::urls::unreserved_chars);
    }
    return out;
}

} // namespace provisiond
