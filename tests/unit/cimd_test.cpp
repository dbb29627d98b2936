// The pure rules of CIMD: client_id URLs, the address policy, freshness, and the validator.
#include "cimd/address_policy.hpp"
#include "cimd/cache_policy.hpp"
#include "cimd/client_id_url.hpp"
#include "cimd/client_metadata.hpp"

#include <gtest/gtest.h>

namespace provisiond::cimd {
namespace {

TEST(ClientIdUrl, AcceptsHttpsUrlsWithAPathAndKeepsThemVerbatim) {
    auto url = parse_client_id_url("https://Partner.Example:8443/oauth/client.json");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->url, "https://Partner.Example:8443/oauth/client.json");
    EXPECT_EQ(url->host, "partner.example");
    EXPECT_EQ(url->port, 8443);
}

TEST(ClientIdUrl, RefusesEachBrokenRule) {
    for (const char* bad :
         {"http://partner.example/c.json", "https://partner.example", "https://partner.example/",
          "https://partner.example/c.json?x=1", "https://partner.example/c.json#f",
          "https://user@partner.example/c.json", "https://partner.example/a/../c.json",
          "https://partner.example/a/./c.json", "https://partner.example/%2e%2e/c.json",
          "https://partner.example/a\\c.json", "https://partner.example/a%5Cc.json",
          "https://partner.example/a c.json", "https://partner.example:0/c.json",
          "https://partner.example:99999/c.json", "https://p%61rtner.example/c.json",
          "https://127.0.0.1.evil.example/c.json"}) {
        EXPECT_FALSE(parse_client_id_url(bad)) << bad;
    }
    EXPECT_TRUE(looks_like_document_url("HTTPS://x/y"));
    EXPECT_FALSE(looks_like_document_url("partner-id"));
}

TEST(AddressPolicy, RefusesEverySpecialUseRangeAndAllowsPublicAddresses) {
    AddressPolicy policy;
    for (
        const char* bad :
        {"0.0.0.0",      "10.1.2.3",         "100.64.0.1",     "127.0.0.1",       "169.254.169.254",
         "172.16.0.1",   "192.0.0.8",        "192.0.2.1",      "192.168.1.1",     "198.18.0.1",
         "203.0.113.9",  "224.0.0.1",        "240.0.0.1",      "255.255.255.255", "::",
         "::1",          "::ffff:127.0.0.1", "::ffff:8.8.8.8", "64:ff9b::a00:1",  "2001:db8::1",
         "2002:a00:1::", "fc00::1",          "fd12::1",        "fe80::1",         "ff02::1",
         "::127.0.0.1"}) {
        EXPECT_TRUE(policy.refusal(boost::asio::ip::make_address(bad))) << bad;
    }
    for (const char* good : {"93.184.216.34", "8.8.8.8", "2606:4700::1111", "1.1.1.1"}) {
        EXPECT_FALSE(policy.refusal(boost::asio::ip::make_address(good))) << good;
    }
    AddressPolicy tests{true};
    EXPECT_FALSE(tests.refusal(boost::asio::ip::make_address("127.0.0.2")));
    EXPECT_FALSE(tests.refusal(boost::asio::ip::make_address("::1")));
    EXPECT_TRUE(tests.refusal(boost::asio::ip::make_address("10.0.0.1")));
}

TEST(AddressPolicy, RefusesInternalNames) {
    for (const char* bad :
         {"localhost", "a.localhost", "metadata.google.internal", "db.internal", "printer.local",
          "svc.cluster.local", "x.consul", "nas.lan", "router.home.arpa", "intranet"}) {
        EXPECT_TRUE(internal_name_refusal(bad)) << bad;
    }
    EXPECT_FALSE(internal_name_refusal("partner.example"));
    EXPECT_FALSE(internal_name_refusal("10.0.0.1")); // IP literals go to the address policy
}

TEST(CachePolicy, ClampsMaxAgeAndDefaults) {
    CacheBounds b;
    EXPECT_EQ(freshness_seconds("", b), 3600);
    EXPECT_EQ(freshness_seconds("public, max-age=60", b), 300);
    EXPECT_EQ(freshness_seconds("max-age=7200", b), 7200);
    EXPECT_EQ(freshness_seconds("max-age=999999999", b), 86400);
    EXPECT_EQ(freshness_seconds("no-store", b), 300);
    EXPECT_EQ(freshness_seconds("max-age=abc", b), 3600);
}

TEST(ClientMetadata, KeepsWhatIsSafeAndSaysWhatWasDropped) {
    auto url = *parse_client_id_url("https://partner.example/client.json");
    auto m = validate_document(url, R"({"client_id":"https://partner.example/client.json",
        "client_name":"  My\u0007  App ", "redirect_uris":["https://partner.example/cb","http://127.0.0.1:9/cb"],
        "logo_uri":"http://partner.example/logo.png", "extra": {"ignored": true},
        "com.posthog":{"scopes":["project:read","nope"],"verification_token":"phvt_abc"}})");
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->client_name, "My App");
    EXPECT_EQ(m->redirect_uris.size(), 2u);
    EXPECT_FALSE(m->logo_uri);
    EXPECT_EQ(m->scopes, std::vector<std::string>{"project:read"});
    EXPECT_EQ(m->verification_token, "phvt_abc");
}

TEST(ClientMetadata, ClientNameLosesEveryInvisibleCharacter) {
    // Tag characters, the Mongolian vowel separator and interlinear annotation anchors were kept
    // by the old hand-kept table; the shared rule (core/unicode.hpp) removes them.
    auto url = *parse_client_id_url("https://partner.example/client.json");
    auto m = validate_document(url, R"({"client_id":"https://partner.example/client.json",
        "client_name":"Pay\udb40\udc41\u180e\ufff9Pal\u202e\u200b\n\nVerified",
        "redirect_uris":["https://partner.example/cb"]})");
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->client_name, "PayPal Verified");
}

TEST(ClientMetadata, RejectionsNameTheProblem) {
    auto url = *parse_client_id_url("https://partner.example/client.json");
    auto expect = [&](std::string body, std::string needle) {
        auto m = validate_document(url, body);
        ASSERT_FALSE(m) << body;
        EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
    };
    const std::string id = R"("client_id":"https://partner.example/client.json")";
    expect("[]", "JSON object");
    expect("{", "not valid JSON");
    expect(
        R"({"client_id":"https://evil.example/c.json","redirect_uris":["https://a.example/cb"]})",
        "does not equal");
    expect("{" + id + "}", "redirect_uris is missing");
    expect("{" + id + R"(,"redirect_uris":[]})", "non-empty array");
    expect("{" + id + R"x(,"redirect_uris":["javascript:alert(1)"]})x", "javascript");
    expect("{" + id + R"(,"redirect_uris":["http://partner.example/cb"]})", "must use https");
    expect("{" + id + R"(,"redirect_uris":["https://a.example/c b"]})", "whitespace");
    expect("{" + id + R"(,"redirect_uris":["http://127.0.0.1.nip.io/cb"]})", "not an absolute URI");
    expect(
        "{" + id +
            R"(,"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"})",
        "token_endpoint_auth_method");
    expect("{" + id + R"(,"redirect_uris":["https://a.example/cb"],"client_secret":"x"})",
           "client_secret");
    expect("{" + id +
               R"(,"redirect_uris":["https://a.example/cb"],"com.posthog":{"scopes":["nope"]}})",
           "None of the declared com.posthog.scopes");
}

} // namespace
} // namespace provisiond::cimd
