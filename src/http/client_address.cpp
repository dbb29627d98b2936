#include "http/client_address.hpp"

#include <algorithm>

namespace provisiond::http {
namespace asio_ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<asio_ip::address> parse_address(std::string_view text) {
    boost::system::error_code ec;
    auto address = asio_ip::make_address(std::string(text), ec);
    if (ec) {
        return std::nullopt;
    }
    // An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is the IPv4 address it carries.
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return asio_ip::make_address_v4(asio_ip::v4_mapped, address.to_v6());
    }
    return address;
}

/// One node of a forwarding header: "203.0.113.7", "[2001:db8::1]:4711", "\"[::1]\"".
std::optional<asio_ip::address> parse_node(std::string_view node) {
    node = trim(node);
    if (node.size() >= 2 && node.front() == '"' && node.back() == '"') {
        node = node.substr(1, node.size() - 2);
    }
    if (!node.empty() && node.front() == '[') {
        auto close = node.find(']');
        return close == std::string_view::npos ? std::nullopt
                                               : parse_address(node.substr(1, close - 1));
    }
    if (std::count(node.begin(), node.end(), ':') == 1) {
        node = node.substr(0, node.find(':')); // IPv4 with a port
    }
    return parse_address(node);
}

/// The client nodes of the header values, left to right: X-Forwarded-For lists addresses;
/// Forwarded (RFC 7239) lists elements whose `for=` parameter is the node.
std::vector<std::string_view> nodes_of(const std::vector<std::string_view>& values,
                                       ForwardedHeader header) {
    std::vector<std::string_view> nodes;
    for (std::string_view value : values) {
        while (!value.empty()) {
            auto comma = value.find(',');
            std::string_view element = trim(value.substr(0, comma));
            value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
            if (header == ForwardedHeader::x_forwarded_for) {
                nodes.push_back(element);
                continue;
            }
            std::string_view node; // an element without for= says nothing of the client
            while (!element.empty()) {
                auto semicolon = element.find(';');
                std::string_view pair = trim(element.substr(0, semicolon));
                element = semicolon == std::string_view::npos ? std::string_view()
                                                              : element.substr(semicolon + 1);
                if (pair.size() > 4 && (pair[0] | 0x20) == 'f' && (pair[1] | 0x20) == 'o' &&
                    (pair[2] | 0x20) == 'r' && pair[3] == '=') {
                    node = pair.substr(4);
                }
            }
            nodes.push_back(node);
        }
    }
    return nodes;
}

std::vector<unsigned char> bytes_of(const asio_ip::address& address) {
    if (address.is_v4()) {
        auto bytes = address.to_v4().to_bytes();
        return {bytes.begin(), bytes.end()};
    }
    auto bytes = address.to_v6().to_bytes();
    return {bytes.begin(), bytes.end()};
}

} // namespace

std::string canonical_ip(std::string_view address) {
    auto parsed = parse_address(address);
    return parsed ? parsed->to_string() : std::string(address);
}

std::string limit_key(std::string_view address) {
    auto parsed = parse_address(address);
    if (!parsed || parsed->is_v4()) {
        return std::string(address);
    }
    auto bytes = parsed->to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio_ip::address_v6(bytes).to_string() + "/64";
}

Result<TrustedProxies> TrustedProxies::parse(const std::vector<std::string>& entries) {
    TrustedProxies out;
    for (const auto& raw : entries) {
        std::string_view entry = trim(raw);
        if (entry.empty()) {
            continue;
        }
        auto slash = entry.find('/');
        auto address = parse_address(entry.substr(0, slash));
        unsigned max_prefix = address && address->is_v4() ? 32 : 128;
        unsigned prefix = max_prefix;
        bool ok = address.has_value();
        if (ok && slash != std::string_view::npos) {
            std::string_view digits = entry.substr(slash + 1);
            ok = !digits.empty() && digits.size() <= 3 &&
                 std::all_of(digits.begin(), digits.end(),
                             [](char c) { return c >= '0' && c <= '9'; });
            prefix = ok ? static_cast<unsigned>(std::stoul(std::string(digits))) : 0;
            ok = ok && prefix <= max_prefix;
        }
        if (!ok) {
            return make_error(ErrorCode::invalid_request,
                              "trusted-proxies: `" + std::string(entry) +
                                  "` is not an address or CIDR block (e.g. 10.0.0.0/8, ::1)");
        }
        out.networks_.push_back({*address, prefix});
    }
    return out;
}

bool TrustedProxies::contains(const asio_ip::address& address) const {
    for (const auto& network : networks_) {
        if (network.base.is_v4() != address.is_v4()) {
            continue;
        }
        auto a = bytes_of(network.base);
        auto b = bytes_of(address);
        unsigned bits = network.prefix;
        bool match = true;
        for (std::size_t i = 0; i < a.size() && bits > 0 && match; ++i) {
            unsigned take = std::min(bits, 8u);
            unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
            match = (a[i] & mask) == (b[i] & mask);
            bits -= take;
        }
        if (match) {
            return true;
        }
    }
    return false;
}

std::optional<ForwardedHeader> parse_forwarded_header(std::string_view name) {
    std::string lower(name); // header names are case-insensitive: X-Forwarded-For is fine too
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "x-forwarded-for") {
        return ForwardedHeader::x_forwarded_for;
    }
    if (lower == "forwarded") {
        return ForwardedHeader::forwarded;
    }
    return std::nullopt;
}

Result<ProxySettings> parse_proxy_settings(const std::vector<std::string>& networks,
                                           std::string_view header) {
    ASSIGN_OR_RETURN(auto trusted, TrustedProxies::parse(networks));
    auto which = parse_forwarded_header(header);
    if (!which) {
        return make_error(ErrorCode::invalid_request,
                          "trusted-proxy-header must be x-forwarded-for or forwarded, got " +
                              std::string(header));
    }
    return ProxySettings{std::move(trusted), *which};
}

std::string client_address(const std::string& peer,
                           const std::vector<std::string_view>& header_values,
                           ForwardedHeader header, const TrustedProxies& trusted) {
    auto hop = parse_address(peer);
    if (!hop || !trusted.contains(*hop)) {
        return peer;
    }
    auto nodes = nodes_of(header_values, header);
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
        auto node = parse_node(*it);
        if (!node) {
            break; // a garbled entry: trust no further than the proxy that handed it on
        }
        hop = node;
        if (!trusted.contains(*hop)) {
            break;
        }
    }
    return hop->to_string();
}

} // namespace provisiond::http
