#include "cimd/client_id_url.hpp"

#include "core/url.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace provisiond::cimd {
namespace {

constexpr std::size_t max_url_length = 2048;

Error refused(std::string why) {
    return make_error(ErrorCode::invalid_request,
                      "client_id is not a valid metadata document URL: " + why);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
    return lower(haystack).find(needle) != std::string::npos;
}

} // namespace

bool looks_like_document_url(std::string_view client_id) {
    return client_id.size() >= 8 && lower(client_id.substr(0, 8)) == "https://";
}

Result<ClientIdUrl> parse_client_id_url(std::string_view id) {
    if (id.size() > max_url_length) {
        return refused("it is longer than 2048 bytes");
    }
    if (id.substr(0, 8) != "https://") {
        return refused("it must start with https://");
    }
    for (unsigned char c : id) {
        if (c <= 0x20 || c == 0x7f) {
            return refused("it contains a space or a control character");
        }
        if (c >= 0x80) {
            return refused("it contains non-ASCII characters (use punycode for the host)");
        }
        if (c == '\\') {
            return refused("it contains a backslash");
        }
    }
    if (id.find('#') != std::string_view::npos) {
        return refused("it must not contain a fragment");
    }
    if (id.find('?') != std::string_view::npos) {
        return refused("it must not contain a query");
    }
    if (contains_ci(id, "%5c")) {
        return refused("it contains an encoded backslash (%5C)");
    }
    if (contains_ci(id, "%2e")) {
        return refused("it contains an encoded dot (%2E)");
    }
    auto parsed = parse_absolute_url(id);
    if (!parsed) {
        return refused("it is not an absolute URI");
    }
    if (parsed->has_userinfo()) {
        return refused("it must not contain user information (user@)");
    }
    if (parsed->has_query()) {
        return refused("it must not contain a query");
    }
    if (id.find('#') != std::string_view::npos) {
        return refused("it must not contain a fragment");
    }
    std::string host(parsed->encoded_host());
    if (host.empty()) {
        return refused("it has no host");
    }
    if (host.find('%') != std::string::npos) {
        return refused("its host must not be percent-encoded");
    }
    if (host.back() == '.') {
        return refused("its host must not end with a dot");
    }
    std::string_view path = parsed->encoded_path();
    if (path.empty() || path == "/") {
        return refused("it must have a path other than /");
    }
    // Dot segments: "/./", "/../", and a trailing "/." or "/..".
    std::size_t start = 0;
    while (start < path.size()) {
        std::size_t slash = path.find('/', start + 1);
        std::string_view segment =
            path.substr(start + 1, slash == std::string_view::npos ? std::string_view::npos
                                                                   : slash - start - 1);
        if (segment == "." || segment == "..") {
            return refused("its path must not contain . or .. segments");
        }
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash;
    }
    ClientIdUrl out;
    out.url = std::string(id);
    out.host = lower(host);
    if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
        out.host = out.host.substr(1, out.host.size() - 2);
    }
    if (parsed->has_port()) {
        std::string_view port = parsed->port();
        if (port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
            return refused("its port is not a number from 1 to 65535");
        }
        out.port = static_cast<std::uint16_t>(std::stoi(std::string(port)));
    }
    return out;
}

} // namespace provisiond::cimd
