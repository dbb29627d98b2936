// Pure functions: crypto encodings, PKCE, scopes, label prefixes, dates, emails, strings.
#include "accounts/email_address.hpp"
#include "core/iso8601.hpp"
#include "core/strings.hpp"
#include "crypto/crypto.hpp"
#include "crypto/one_time_seal.hpp"
#include "crypto/password.hpp"
#include "oauth/pkce.hpp"
#include "oauth/scopes.hpp"
#include "oauth/token_formats.hpp"
#include "provisioning/label_prefix.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace provisiond;

TEST(Crypto, Sha256KnownVector) {
    EXPECT_EQ(crypto::sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, Base64UrlHasNoPaddingAndUrlAlphabet) {
    EXPECT_EQ(crypto::base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(crypto::base64url_encode("f"), "Zg");
    EXPECT_EQ(crypto::base64url_encode("fo"), "Zm8");
    EXPECT_EQ(crypto::base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(crypto::random_urlsafe_token().size(), 43U);
}

TEST(Crypto, Base62TokensHaveTheRightShapeAndDiffer) {
    std::string a = oauth::mint_prefixed_secret(oauth::access_token_prefix);
    std::string b = oauth::mint_prefixed_secret(oauth::access_token_prefix);
    EXPECT_EQ(a.rfind("pha_", 0), 0U);
    EXPECT_EQ(a.size(), 4U + 43U);
    EXPECT_NE(a, b);
    for (char c : a.substr(4)) {
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << c;
    }
    EXPECT_EQ(oauth::mask_secret("phx_abcdefgh1234", "phx_"), "phx_...1234");
}

TEST(Crypto, ConstantTimeEqual) {
    EXPECT_TRUE(crypto::constant_time_equal("abc", "abc"));
    EXPECT_FALSE(crypto::constant_time_equal("abc", "abd"));
    EXPECT_FALSE(crypto::constant_time_equal("abc", "abcd"));
}

TEST(Crypto, UuidIsVersion4) {
    std::string id = crypto::random_uuid();
    ASSERT_EQ(id.size(), 36U);
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
}

TEST(Password, Argon2idRoundTrip) {
    auto hash = crypto::hash_password("correct horse battery staple");
    ASSERT_TRUE(hash);
    EXPECT_EQ(hash->rfind("$argon2id$", 0), 0U);
    EXPECT_TRUE(crypto::verify_password(*hash, "correct horse battery staple"));
    EXPECT_FALSE(crypto::verify_password(*hash, "wrong"));
    EXPECT_FALSE(crypto::verify_password("garbage", "wrong"));
}

TEST(Password, DecoyHashHasTheCurrentParameters) {
    // Equal timing for unknown accounts holds only while the decoy costs what a real hash costs.
    EXPECT_TRUE(crypto::has_current_parameters(crypto::decoy_password_hash()));
    EXPECT_TRUE(crypto::has_current_parameters(*crypto::hash_password("x")));
    EXPECT_FALSE(
        crypto::has_current_parameters("$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
    EXPECT_FALSE(crypto::verify_password(crypto::decoy_password_hash(), ""));
}

TEST(Pkce, Rfc7636AppendixBVector) {
    const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const std::string challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    EXPECT_TRUE(oauth::is_valid_code_verifier(verifier));
    EXPECT_TRUE(oauth::is_valid_code_challenge(challenge));
    EXPECT_TRUE(oauth::verify_s256(verifier, challenge));
    EXPECT_FALSE(oauth::verify_s256(verifier + "x", challenge));
}

TEST(Pkce, ChallengeShapeRules) {
    EXPECT_FALSE(oauth::is_valid_code_challenge("abc"));
    EXPECT_FALSE(oauth::is_valid_code_challenge(std::string(129, 'a')));
    EXPECT_TRUE(oauth::is_valid_code_challenge(std::string(128, 'a')));
    EXPECT_FALSE(oauth::is_valid_code_challenge(std::string(42, 'a') + "!"));
    EXPECT_FALSE(oauth::is_valid_code_verifier(std::string(42, 'a')));
    EXPECT_TRUE(oauth::is_valid_code_verifier(std::string(43, '~')));
}

TEST(Scopes, OmittedMeansTheCeiling) {
    auto r = oauth::resolve_requested_scopes(std::nullopt, {"user:read", "project:read"});
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, (std::vector<std::string>{"project:read", "user:read"}));
}

TEST(Scopes, NarrowingKeepsOnlyWhatTheCeilingStillAllowsInOrder) {
    std::vector<std::string> granted{"user:read", "project:read", "query:read"};
    EXPECT_EQ(oauth::narrow_to_ceiling(granted, {"query:read", "user:read"}),
              (std::vector<std::string>{"user:read", "query:read"}));
    EXPECT_EQ(oauth::narrow_to_ceiling(granted, granted), granted);
    EXPECT_TRUE(oauth::narrow_to_ceiling(granted, {"dashboard:read"}).empty());
    EXPECT_TRUE(oauth::narrow_to_ceiling({}, granted).empty());
}

TEST(Scopes, UnknownAndOutsideCeilingAreInvalidScope) {
    auto unknown =
        oauth::resolve_requested_scopes(std::vector<std::string>{"dashboard:read"}, {"user:read"});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ErrorCode::invalid_scope);
    EXPECT_EQ(unknown.error().message, "One or more requested scopes are not recognized");
    auto outside =
        oauth::resolve_requested_scopes(std::vector<std::string>{"query:read"}, {"user:read"});
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().message,
              "One or more requested scopes exceed the application's allowed scopes");
    auto upper =
        oauth::resolve_requested_scopes(std::vector<std::string>{"USER:READ"}, {"user:read"});
    EXPECT_FALSE(upper);
    auto empty = oauth::resolve_requested_scopes(std::vector<std::string>{}, {"user:read"});
    EXPECT_FALSE(empty);
}

TEST(LabelPrefix, PostHogRules) {
    auto parse = [](boost::json::value v) { return provisioning::parse_label_prefix(&v); };
    EXPECT_EQ(*parse("Acme Co"), std::optional<std::string>("Acme Co"));
    EXPECT_EQ(*parse("  Acme  "), std::optional<std::string>("Acme"));
    EXPECT_EQ(*parse(""), std::nullopt);
    EXPECT_EQ(*parse("   "), std::nullopt);
    EXPECT_EQ(*provisioning::parse_label_prefix(nullptr), std::nullopt);
    EXPECT_TRUE(parse(boost::json::value(std::string(25, 'a'))));
    for (boost::json::value bad :
         {boost::json::value(std::string(26, 'a')), boost::json::value("Acme\nCo"),
          boost::json::value("Acme\tCo"), boost::json::value("Acme\u202eCo"),
          boost::json::value("Acme\u200bCo"), boost::json::value(42),
          boost::json::value(boost::json::array{})}) {
        auto r = parse(bad);
        ASSERT_FALSE(r) << boost::json::serialize(bad);
        EXPECT_EQ(r.error().code, ErrorCode::invalid_label_prefix);
    }
    EXPECT_EQ(parse(42).error().message, "label_prefix must be a string");
    EXPECT_EQ(parse(boost::json::value(std::string(26, 'a'))).error().message,
              "label_prefix must be 25 characters or fewer");
}

TEST(LabelPrefix, KeyLabelIsCutToFortyCharacters) {
    std::string team(60, 't');
    std::string label = provisioning::personal_key_label(std::string("PartnerX"), team);
    EXPECT_EQ(label.size(), 40U);
    EXPECT_EQ(label.rfind("PartnerX - ", 0), 0U);
    EXPECT_EQ(provisioning::personal_key_label(std::nullopt, "Default project"), "Default project");
    // Code points, not bytes: a cut never splits a character.
    std::string wide =
        provisioning::personal_key_label(std::nullopt, std::string(30, 'x') + "ééééééééééééé");
    EXPECT_TRUE(is_valid_utf8(wide));
    EXPECT_EQ(decode_utf8(wide).size(), 40U);
}

TEST(Iso8601, ParsesCommonForms) {
    EXPECT_EQ(parse_iso8601("1970-01-02"), 86400);
    EXPECT_EQ(parse_iso8601("2026-01-01T00:00:00Z"), 1767225600);
    EXPECT_EQ(parse_iso8601("2026-01-01T02:00:00+02:00"), 1767225600);
    EXPECT_EQ(parse_iso8601("2026-01-01 00:00:00.123456"), 1767225600);
    EXPECT_EQ(parse_iso8601("2026-01-01T00:00"), 1767225600);
    EXPECT_FALSE(parse_iso8601("tomorrow"));
    EXPECT_FALSE(parse_iso8601("2026-13-01"));
    EXPECT_FALSE(parse_iso8601("2026-01-01T00:00:00Zjunk"));
    EXPECT_EQ(format_iso8601(1767225600), "2026-01-01T00:00:00Z");
}

TEST(Email, NormalizationAndValidation) {
    EXPECT_EQ(accounts::parse_email("  Jane.Doe@Example.COM ")->key, "jane.doe@example.com");
    EXPECT_TRUE(accounts::parse_email("jane@example.com"));
    for (const char* bad :
         {"", "jane", "@example.com", "jane@", "jane@example", "a@b@c.com", "jane doe@example.com",
          "jane@example.com\r\nBcc: x@y.z", "jane@.com"}) {
        EXPECT_FALSE(accounts::parse_email(bad)) << bad;
    }
}

TEST(Strings, Utf8Validation) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("\xc3\xa9"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
    EXPECT_EQ(parse_positive_integer("123"), 123);
    EXPECT_FALSE(parse_positive_integer("-1"));
    EXPECT_FALSE(parse_positive_integer("1e3"));
    EXPECT_FALSE(parse_positive_integer("99999999999999999999"));
}

TEST(OneTimeSeal, OpensOnlyWithItsOwnKeyAndUntamperedBox) {
    const std::string secret = "phx_" + std::string(43, 'k');
    auto sealed = crypto::seal_once(secret);
    EXPECT_EQ(sealed.key.size(), 43u);
    EXPECT_EQ(sealed.box.find(secret), std::string::npos);
    EXPECT_EQ(crypto::open_sealed(sealed.box, sealed.key), secret);
    auto other = crypto::seal_once(secret);
    EXPECT_NE(other.box, sealed.box) << "a fresh key and nonce each time";
    EXPECT_FALSE(crypto::open_sealed(sealed.box, other.key)) << "another key";
    std::string tampered = *crypto::base64_decode(sealed.box);
    tampered.back() ^= 1;
    EXPECT_FALSE(crypto::open_sealed(crypto::base64_encode(tampered), sealed.key));
    EXPECT_FALSE(crypto::open_sealed("not base64!", sealed.key));
    EXPECT_FALSE(crypto::open_sealed(sealed.box, "short"));
    EXPECT_FALSE(crypto::open_sealed("", sealed.key));
}
