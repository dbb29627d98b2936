// The pure pieces behind the pages: safe redirect targets, cookies, the message format,
// base64, and what the stored metadata document keeps of a verification token.
#include "cimd/client_metadata.hpp"
#include "core/url.hpp"
#include "crypto/crypto.hpp"
#include "outbox/message_format.hpp"
#include "web/cookies.hpp"
#include "web/form.hpp"
#include "web/pending_authorization.hpp"

#include <gtest/gtest.h>

namespace provisiond {
namespace {

TEST(SafePath, OnlyRelativeInAppPaths) {
    for (const char* good : {"/dashboard", "/project/12?tab=keys", "/a/b#c"}) {
        EXPECT_TRUE(web::is_safe_path(good)) << good;
    }
    for (const char* bad : {"", "dashboard", "//evil.example", "/\\evil.example",
                            "https://evil.example", "/a b", "/a\tb", "\\\\evil"}) {
        EXPECT_FALSE(web::is_safe_path(bad)) << bad;
    }
    EXPECT_EQ(web::safe_next("//evil.example"), "/dashboard");
}

TEST(Cookies, ReadsOneCookieAmongSeveralAndWritesHttpOnly) {
    http::Request r;
    r.headers = {{"cookie", "a=1; provisiond_session=abc; b=2"}};
    EXPECT_EQ(web::read_cookie(r, "provisiond_session"), "abc");
    EXPECT_FALSE(web::read_cookie(r, "missing"));
    std::string header = web::cookie_header("s", "v", {true, "Strict", 0});
    EXPECT_EQ(header, "s=v; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0");
}

TEST(State, ConsentStatesAreUrlSafeAndBounded) {
    EXPECT_TRUE(web::is_valid_state("abc-DEF_123"));
    EXPECT_FALSE(web::is_valid_state(""));
    EXPECT_FALSE(web::is_valid_state("a b"));
    EXPECT_FALSE(web::is_valid_state(std::string(257, 'a')));
}

TEST(MessageFormat, HeadersCannotBeInjectedAndDatesAreRfc5322) {
    outbox::Email e;
    e.id = "id";
    e.kind = "welcome";
    e.recipient = "a@example.com\r\nBcc: evil@example.com";
    e.subject = "Hi";
    e.body_text = "line1\nline2";
    e.created_at = 1795000000; // 2026-11-18
    std::string text = outbox::format_message("Acme <no-reply@acme.example>", e);
    EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);
    EXPECT_NE(text.find("Date: Wed, 18 Nov 2026 "), std::string::npos) << text;
    EXPECT_NE(text.find("line1\r\nline2\r\n"), std::string::npos);
    EXPECT_EQ(outbox::envelope_address("Acme <no-reply@acme.example>"), "no-reply@acme.example");
    EXPECT_EQ(outbox::envelope_path("Acme <no-reply@acme.example>"), "<no-reply@acme.example>");
    EXPECT_EQ(outbox::envelope_path("jane@example.com"), "<jane@example.com>");
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
    for (const std::string& s :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        auto decoded = crypto::base64_decode(crypto::base64_encode(s));
        ASSERT_TRUE(decoded);
        EXPECT_EQ(*decoded, s);
    }
    EXPECT_FALSE(crypto::base64_decode("abc"));
    EXPECT_FALSE(crypto::base64_decode("a*c="));
}

TEST(RedactDocument, KeepsOnlyAMaskOfVerificationTokens) {
    std::string stored = cimd::redact_document(
        R"({"client_id":"x","posthog_verification_token":"phvt_secretvalue1234","com.posthog":{"verification_token":"phvt_othervalue9876"}})");
    EXPECT_EQ(stored.find("secretvalue"), std::string::npos);
    EXPECT_EQ(stored.find("othervalue"), std::string::npos);
    EXPECT_NE(stored.find("phvt_...1234"), std::string::npos);
}

TEST(Url, RefusesAnAuthorityFollowedByAPathWithoutSlash) {
    EXPECT_FALSE(parse_absolute_url("http://127.0.0.1.nip.io/cb"));
    EXPECT_TRUE(parse_absolute_url("https://partner.example/cb"));
    EXPECT_TRUE(parse_absolute_url("com.example.app:/cb"));
}

} // namespace
} // namespace provisiond

namespace provisiond {
namespace {

TEST(Url, AppendQueryEncodesEverythingButUnreserved) {
    EXPECT_EQ(append_query("https://p.example/cb", {{"state", "q+L/9w=="}, {"code", "a b"}}),
              "https://p.example/cb?state=q%2BL%2F9w%3D%3D&code=a%20b");
    EXPECT_EQ(append_query("https://p.example/cb?app=1", {{"x", "y"}}),
              "https://p.example/cb?app=1&x=y");
}

} // namespace
} // namespace provisiond
