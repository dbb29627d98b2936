// http/client_address: who a request comes from when proxies stand in front.
#include "http/client_address.hpp"

#include <gtest/gtest.h>

using namespace provisiond::http;

namespace {
TrustedProxies trust(std::vector<std::string> entries) {
    auto parsed = TrustedProxies::parse(entries);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    return parsed ? *parsed : TrustedProxies{};
}
constexpr auto xff = ForwardedHeader::x_forwarded_for;
} // namespace

TEST(TrustedProxies, ParsesAddressesAndCidrBlocksAndNamesABadEntry) {
    auto t = trust({"10.0.0.0/8", "127.0.0.1", "2001:db8::/32", " 192.168.1.0/24 "});
    auto a = [](const char* s) { return boost::asio::ip::make_address(s); };
    EXPECT_TRUE(t.contains(a("10.200.3.4")));
    EXPECT_TRUE(t.contains(a("127.0.0.1")));
    EXPECT_FALSE(t.contains(a("127.0.0.2")));
    EXPECT_TRUE(t.contains(a("2001:db8:ffff::1")));
    EXPECT_FALSE(t.contains(a("2001:db9::1")));
    EXPECT_TRUE(t.contains(a("192.168.1.77")));
    EXPECT_FALSE(t.contains(a("192.168.2.1")));
    for (std::string bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/", "::1/129", "10.0.0.0/-1"}) {
        auto parsed = TrustedProxies::parse({bad});
        ASSERT_FALSE(parsed) << bad;
        EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
    }
}

TEST(ClientAddress, AnUntrustedPeerIsTheClientWhateverItSends) {
    EXPECT_EQ(client_address("198.51.100.7", {"203.0.113.9"}, xff, trust({"10.0.0.0/8"})),
              "198.51.100.7");
    EXPECT_EQ(client_address("198.51.100.7", {"203.0.113.9"}, xff, TrustedProxies{}),
              "198.51.100.7");
}

TEST(ClientAddress, TheRightMostUntrustedHopOfATrustedProxyIsTheClient) {
    auto t = trust({"127.0.0.1", "10.0.0.0/8"});
    EXPECT_EQ(client_address("127.0.0.1", {"203.0.113.9"}, xff, t), "203.0.113.9");
    // A client-forged left part is ignored: the right-most untrusted entry wins.
    EXPECT_EQ(client_address("127.0.0.1", {"1.1.1.1, 203.0.113.9"}, xff, t), "203.0.113.9");
    EXPECT_EQ(client_address("127.0.0.1", {"198.51.100.1, 203.0.113.9, 10.1.2.3"}, xff, t),
              "203.0.113.9");
    // Several header lines are one list, in order.
    EXPECT_EQ(client_address("127.0.0.1", {"198.51.100.1", "203.0.113.9"}, xff, t), "203.0.113.9");
    // Every hop trusted: the left-most is as far as we can see.
    EXPECT_EQ(client_address("127.0.0.1", {"10.9.9.9"}, xff, t), "10.9.9.9");
    // No header: the proxy itself.
    EXPECT_EQ(client_address("127.0.0.1", {}, xff, t), "127.0.0.1");
}

TEST(ClientAddress, AGarbledEntryStopsTheWalkAtTheLastTrustedHop) {
    auto t = trust({"127.0.0.1", "10.0.0.0/8"});
    EXPECT_EQ(client_address("127.0.0.1", {"198.51.100.1, not-an-ip"}, xff, t), "127.0.0.1");
    EXPECT_EQ(client_address("127.0.0.1", {"198.51.100.1, garbage, 10.0.0.5"}, xff, t), "10.0.0.5");
}

TEST(ClientAddress, ForwardedHeaderForms) {
    auto t = trust({"127.0.0.1"});
    auto fwd = ForwardedHeader::forwarded;
    EXPECT_EQ(client_address("127.0.0.1", {"for=192.0.2.60;proto=https;by=203.0.113.43"}, fwd, t),
              "192.0.2.60");
    EXPECT_EQ(client_address("127.0.0.1", {R"(for="[2001:db8::1]:4711")"}, fwd, t), "2001:db8::1");
    EXPECT_EQ(client_address("127.0.0.1", {"For=198.51.100.1, for=192.0.2.43:8080"}, fwd, t),
              "192.0.2.43");
    EXPECT_EQ(client_address("127.0.0.1", {"proto=https"}, fwd, t), "127.0.0.1");
    EXPECT_EQ(client_address("::ffff:127.0.0.1", {"192.0.2.60"}, xff, t), "192.0.2.60")
        << "an IPv4-mapped peer is its IPv4 address";
}

TEST(ClientAddress, CanonicalIpAndLimitKeys) {
    EXPECT_EQ(canonical_ip("::ffff:10.0.0.5"), "10.0.0.5");
    EXPECT_EQ(canonical_ip("2001:DB8::1"), "2001:db8::1");
    EXPECT_EQ(canonical_ip("not an address"), "not an address");
    EXPECT_EQ(limit_key("203.0.113.9"), "203.0.113.9");
    // One IPv6 /64 is one budget: a host holds the whole prefix.
    EXPECT_EQ(limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(limit_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
    EXPECT_NE(limit_key("2001:db8:1:3::1"), limit_key("2001:db8:1:2::1"));
}

TEST(TrustedProxies, AnIpv4MappedPeerMatchesItsIpv4Network) {
    auto t = trust({"10.0.0.0/8"});
    EXPECT_TRUE(t.contains(boost::asio::ip::make_address(canonical_ip("::ffff:10.0.0.5"))));
}
