#include "cimd/address_policy.hpp"

#include <array>
#include <cstdint>

namespace provisiond::cimd {
namespace {

using boost::asio::ip::address_v4;
using boost::asio::ip::address_v6;

struct V4Range {
    std::uint32_t network;
    int prefix;
    const char* name;
};

constexpr std::uint32_t v4(int a, int b, int c, int d) {
    return (static_cast<std::uint32_t>(a) << 24) | (static_cast<std::uint32_t>(b) << 16) |
           (static_cast<std::uint32_t>(c) << 8) | static_cast<std::uint32_t>(d);
}

// RFC 6890 and its updates: every IPv4 block that is not globally reachable unicast.
constexpr std::array<V4Range, 16> special_v4{{
    {v4(0, 0, 0, 0), 8, "\"this network\" (0.0.0.0/8)"},
    {v4(10, 0, 0, 0), 8, "private (10.0.0.0/8)"},
    {v4(100, 64, 0, 0), 10, "shared address space / CGNAT (100.64.0.0/10)"},
    {v4(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"},
    {v4(169, 254, 0, 0), 16, "link-local (169.254.0.0/16)"},
    {v4(172, 16, 0, 0), 12, "private (172.16.0.0/12)"},
    {v4(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"},
    {v4(192, 0, 2, 0), 24, "documentation (192.0.2.0/24)"},
    {v4(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99.0/24)"},
    {v4(192, 168, 0, 0), 16, "private (192.168.0.0/16)"},
    {v4(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15)"},
    {v4(198, 51, 100, 0), 24, "documentation (198.51.100.0/24)"},
    {v4(203, 0, 113, 0), 24, "documentation (203.0.113.0/24)"},
    {v4(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"},
    {v4(240, 0, 0, 0), 4, "reserved (240.0.0.0/4)"},
    {v4(255, 255, 255, 255), 32, "broadcast (255.255.255.255)"},
}};

bool in_v4(std::uint32_t address, const V4Range& range) {
    std::uint32_t mask = range.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - range.prefix);
    return (address & mask) == range.network;
}

std::optional<std::string> v4_refusal(const address_v4& address, bool allow_loopback) {
    std::uint32_t bits = address.to_uint();
    for (const auto& range : special_v4) {
        if (in_v4(bits, range)) {
            if (allow_loopback && range.network == v4(127, 0, 0, 0)) {
                return std::nullopt;
            }
            return std::string(range.name);
        }
    }
    return std::nullopt;
}

/// True when the first `prefix` bits of `bytes` equal those of `network`.
bool in_v6(const address_v6::bytes_type& bytes, const address_v6::bytes_type& network, int prefix) {
    for (int i = 0; i < 16 && prefix > 0; ++i, prefix -= 8) {
        std::uint8_t mask = prefix >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - prefix));
        if ((bytes[i] & mask) != (network[i] & mask)) {
            return false;
        }
    }
    return true;
}

address_v6::bytes_type v6(std::string_view text) {
    return boost::asio::ip::make_address_v6(std::string(text)).to_bytes();
}

} // namespace

std::optional<std::string> AddressPolicy::refusal(const boost::asio::ip::address& address) const {
    std::optional<std::string> why;
    if (address.is_v4()) {
        why = v4_refusal(address.to_v4(), allow_loopback);
    } else {
        const address_v6 a6 = address.to_v6();
        const auto bytes = a6.to_bytes();
        struct V6Range {
            const char* network;
            int prefix;
            const char* name;
        };
        static const V6Range ranges[] = {
            {"::", 128, "unspecified (::)"},
            {"::ffff:0:0", 96, "IPv4-mapped (::ffff:0:0/96)"},
            {"::", 96, "IPv4-compatible (::/96)"},
            {"64:ff9b::", 96, "NAT64 (64:ff9b::/96)"},
            {"64:ff9b:1::", 48, "local-use NAT64 (64:ff9b:1::/48)"},
            {"100::", 64, "discard-only (100::/64)"},
            {"2001:db8::", 32, "documentation (2001:db8::/32)"},
            {"3fff::", 20, "documentation (3fff::/20)"},
            {"2001::", 23, "IETF protocol assignments (2001::/23)"},
            {"2002::", 16, "6to4 (2002::/16)"},
            {"fc00::", 7, "unique local (fc00::/7)"},
            {"fe80::", 10, "link-local (fe80::/10)"},
            {"fec0::", 10, "site-local (fec0::/10)"},
            {"ff00::", 8, "multicast (ff00::/8)"},
        };
        if (a6.is_loopback()) {
            why = allow_loopback ? std::nullopt : std::optional<std::string>("loopback (::1)");
        } else {
            for (const auto& range : ranges) {
                if (in_v6(bytes, v6(range.network), range.prefix)) {
                    why = std::string(range.name);
                    break;
                }
            }
        }
    }
    if (!why) {
        return std::nullopt;
    }
    return "address " + address.to_string() + " is " + *why + ", which is never fetched";
}

std::optional<std::string> internal_name_refusal(std::string_view host) {
    std::string name(host);
    while (!name.empty() && name.back() == '.') {
        name.pop_back(); // "example.com." is "example.com"
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address(name, ec);
    if (!ec) {
        return std::nullopt; // an IP literal: the address policy decides
    }
    auto refused = [&](std::string why) {
        return std::optional<std::string>("host " + std::string(host) + " " + why +
                                          ", which is never fetched");
    };
    if (name.find('.') == std::string::npos) {
        return refused("is a single-label (internal) name");
    }
    static const char* exact[] = {"localhost", "metadata.google.internal", "metadata.goog",
                                  "instance-data.ec2.internal"};
    for (const char* e : exact) {
        if (name == e) {
            return refused("is an internal name");
        }
    }
    static const char* suffixes[] = {
        ".localhost", ".local",       ".internal",  ".cluster.local", ".consul", ".lan", ".home",
        ".corp",      ".localdomain", ".home.arpa", ".intranet",      ".priv",   ".arpa"};
    for (const char* suffix : suffixes) {
        std::string_view s(suffix);
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
            return refused("is under " + std::string(s) + ", an internal domain");
        }
    }
    return std::nullopt;
}

} // namespace provisiond::cimd
