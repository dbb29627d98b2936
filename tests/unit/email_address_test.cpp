// The identity of an email address (accounts/email_address.hpp): one key per mailbox whatever
// its Unicode form, case or domain spelling; controls, invisible characters and bad UTF-8 refused.
#include "accounts/email_address.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

using namespace provisiond;

namespace {

std::string key_of(std::string_view raw) {
    auto parsed = accounts::parse_email(raw);
    EXPECT_TRUE(parsed) << raw << ": " << (parsed ? "" : parsed.error().message);
    return parsed ? parsed->key : "<refused>";
}

/// Refused as invalid_request; returns the message.
std::string refusal(std::string_view raw) {
    auto parsed = accounts::parse_email(raw);
    EXPECT_FALSE(parsed) << raw << " was accepted as " << (parsed ? parsed->key : "");
    if (parsed) {
        return "";
    }
    EXPECT_EQ(parsed.error().code, ErrorCode::invalid_request) << raw;
    return parsed.error().message;
}

} // namespace

TEST(EmailAddress, OneKeyForEachEquivalentSpelling) {
    const std::pair<const char*, const char*> same[] = {
        // precomposed é (U+00E9) and e + combining acute (U+0301)
        {"jos\u00e9@example.com", "jose\u0301@example.com"},
        // non-ASCII case
        {"\u00e9mile@example.com", "\u00c9MILE@example.com"},
        {"\u00c9mile@EXAMPLE.com", "\u00e9mile@example.com"},
        // IDN and its punycode (A-label), in either case
        {"user@b\u00fccher.example", "user@xn--bcher-kva.example"},
        {"user@B\u00dcCHER.example", "user@xn--bcher-kva.example"},
        {"user@XN--BCHER-KVA.EXAMPLE", "user@xn--bcher-kva.example"},
        // fullwidth letters and an ideographic full stop in the domain
        {"user@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "user@example.com"},
        {"user@example\u3002com", "user@example.com"},
        // fullwidth and compatibility forms in the local part
        {"\uff55\uff53\uff45\uff52@example.com", "user@example.com"},
        {"\u2122@example.com", "tm@example.com"},
        {"\ufb01nance@example.com", "finance@example.com"},
        // full case folding
        {"stra\u00dfe@example.com", "STRASSE@example.com"},
        // ASCII case and surrounding spaces, as before
        {"  Jane.Doe@Example.COM ", "jane.doe@example.com"},
    };
    for (const auto& [a, b] : same) {
        EXPECT_EQ(key_of(a), key_of(b)) << a << " vs " << b;
    }
}

TEST(EmailAddress, KeyIsFoldedLocalPartAndAsciiDomain) {
    EXPECT_EQ(key_of("JOS\u00c9@B\u00fccher.Example"), "jos\u00e9@xn--bcher-kva.example");
    EXPECT_EQ(key_of("jose\u0301@example.com"), "jos\u00e9@example.com");
    EXPECT_EQ(key_of("user@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"), "user@example.com");
    EXPECT_EQ(key_of("a.b+tag@sub.example.co.uk"), "a.b+tag@sub.example.co.uk");
}

TEST(EmailAddress, DisplayFormIsTrimmedNfcOtherwiseAsSent) {
    auto parsed = accounts::parse_email("  Jose\u0301@B\u00fccher.Example ");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->display, "Jos\u00e9@B\u00fccher.Example");
    auto ascii = accounts::parse_email("Jane.Doe@Example.COM");
    ASSERT_TRUE(ascii);
    EXPECT_EQ(ascii->display, "Jane.Doe@Example.COM");
    EXPECT_EQ(ascii->key, "jane.doe@example.com");
}

TEST(EmailAddress, ControlCharactersAreRefusedBeforeTrimming) {
    for (std::string raw :
         {std::string("\r\nuser@example.com\r\n"), std::string("user@example.com\n"),
          std::string("\tuser@example.com"), std::string("user@example.com\r"),
          std::string("user\x7f@example.com"), std::string("user@example.com\x1b"),
          std::string("user\0@example.com", 17), std::string("user\u0085@example.com"),
          std::string("user@example.com\u0080"), std::string("user@example.com\u009f"),
          std::string("jane@example.com\r\nBcc: x@y.z")}) {
        EXPECT_EQ(refusal(raw), "email must not contain control characters") << raw;
    }
}

TEST(EmailAddress, InvisibleCharactersAreRefused) {
    for (const char* raw : {
             "user@example.com\u200b",       // zero-width space, trailing
             "\u200buser@example.com",       // zero-width space, leading
             "us\u200cer@example.com",       // zero-width non-joiner
             "us\u200der@example.com",       // zero-width joiner
             "user@exa\u2060mple.com",       // word joiner
             "\ufeffuser@example.com",       // byte order mark
             "user\u00ad@example.com",       // soft hyphen
             "user@example.com\u202e",       // right-to-left override
             "\u2066user@example.com\u2069", // isolates
             "user@example.com\u200e",       // left-to-right mark
             "user\U000E0041@example.com",   // tag character
             "user\ufe0f@example.com",       // variation selector
             "user\u034f@example.com",       // combining grapheme joiner
             "user@example.com\u2028",       // line separator
         }) {
        EXPECT_EQ(refusal(raw), "email must not contain invisible characters") << raw;
    }
}

TEST(EmailAddress, InvalidUtf8IsRefused) {
    for (const char* raw : {"\xc3@example.com", "user@exam\xffple.com", "\xc0\xafuser@example.com",
                            "user@\xed\xa0\x80.com"}) {
        EXPECT_EQ(refusal(raw), "email must be valid UTF-8") << raw;
    }
}

TEST(EmailAddress, SpacesInsideAreRefused) {
    for (const char* raw : {"jane doe@example.com", "jane@exa mple.com", "jane\u00a0@example.com",
                            "jane@example.com\u3000", "\u2003jane@example.com"}) {
        EXPECT_EQ(refusal(raw), "email must not contain spaces") << raw;
    }
    EXPECT_EQ(refusal("   "), "email is required");
}

TEST(EmailAddress, ShapeRulesStillHold) {
    for (const char* raw :
         {"", "jane", "@example.com", "jane@", "jane@example", "a@b@c.com", "jane@.com",
          "jane@example.com.", "jane@example..com", "<jane@example.com>", "\"jane\"@example.com",
          "jane,doe@example.com", "ja\\ne@example.com",
          // compatibility forms must not bring back what the raw text could not carry
          "user\uff20example.com", "a\uff20b@example.com", "a\uff1cb@example.com"}) {
        EXPECT_FALSE(accounts::parse_email(raw)) << raw;
    }
    std::string longest = std::string(64, 'a') + "@" + std::string(185, 'b') + ".com";
    ASSERT_EQ(longest.size(), 254U);
    // Labels of at most 63 octets: split the domain so that libidn2 accepts it.
    for (std::size_t i = 65 + 60; i < longest.size() - 4; i += 61) {
        longest[i] = '.';
    }
    EXPECT_TRUE(accounts::parse_email(longest)) << longest;
    EXPECT_EQ(refusal(longest + "m"), "email must be at most 254 bytes");
}

TEST(EmailAddress, DomainsLibidn2RefusesAreRefused) {
    for (const char* raw :
         {"user@-bad.example", "user@bad-.example", "user@xn--a.example", "user@ab--c.example"}) {
        EXPECT_EQ(refusal(raw), "email domain is not a valid domain name") << raw;
    }
}

TEST(EmailAddress, CompatibilityFormsCannotSmuggleSeparatorsIntoTheDomain) {
    // Without STD3 rules UTS #46 maps U+FF20 to '@' and U+FF1C to '<'.
    EXPECT_EQ(refusal("jane@ex\uff20ample.com"), "email domain is not a valid domain name");
    EXPECT_EQ(refusal("jane@ex\uff1cample.com"), "email domain is not a valid domain name");
    EXPECT_EQ(refusal("jane@ex\ufe6bample.com"), "email domain is not a valid domain name");
}
