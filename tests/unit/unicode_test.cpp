// core/unicode: which characters are invisible, the one cleanup for display text, and truncation
// on code-point boundaries.
#include "core/strings.hpp"
#include "core/unicode.hpp"

#include <gtest/gtest.h>

using namespace provisiond;

TEST(Unicode, InvisibleCharactersAreControlsFormatSeparatorsAndDefaultIgnorables) {
    for (char32_t c : {U'\0', U'\n', U'\x7f', U'\x85', U'\u00ad', U'\u180e', U'\u200b', U'\u200d',
                       U'\u2028', U'\u2029', U'\u202e', U'\u2066', U'\ufe0f', U'\ufeff', U'\ufff9',
                       U'\U000e0041', U'\U000e0001', U'\u115f'}) {
        EXPECT_TRUE(is_invisible(c)) << std::hex << static_cast<unsigned>(c);
    }
    for (char32_t c : {U'a', U' ', U'\u00e9', U'\u00a0', U'\u4e2d', U'\U0001f600', U'-'}) {
        EXPECT_FALSE(is_invisible(c)) << std::hex << static_cast<unsigned>(c);
    }
}

TEST(Unicode, DisplayTextIsOneLineWithoutInvisibleCharacters) {
    EXPECT_EQ(clean_display_text("  Acme\r\n\r\nClick https://evil.example  ", 100),
              "Acme Click https://evil.example");
    EXPECT_EQ(clean_display_text("A\u202e\u200bc\U000e0041\u180e\ufff9me", 100), "Acme");
    EXPECT_EQ(clean_display_text("Tab\there\u0007!", 100), "Tab here!");
    EXPECT_EQ(clean_display_text("Jos\u00e9\u00a0Mar\u00eda", 100), "Jos\u00e9 Mar\u00eda");
    EXPECT_EQ(clean_display_text("\u200b\u202e", 100), "");
    EXPECT_EQ(clean_display_text(std::string("bad\xff utf8"), 100), "")
        << "invalid UTF-8 shows nothing";
}

TEST(Unicode, DisplayTextIsCutToCodePointsCountingTheSpaces) {
    EXPECT_EQ(clean_display_text("abcdef", 4), "abcd");
    EXPECT_EQ(clean_display_text("abc def", 4), "abc") << "no trailing separator";
    EXPECT_EQ(clean_display_text("ab cd", 4), "ab c");
    EXPECT_EQ(decode_utf8(clean_display_text(std::string(300, 'x') + "\u00e9", 100)).size(), 100u);
    EXPECT_EQ(clean_display_text("\u00e9\u00e9\u00e9", 2), "\u00e9\u00e9");
}

TEST(Unicode, TruncationNeverSplitsACharacter) {
    EXPECT_EQ(truncate_utf8("short", 64), "short");
    std::string odd = "a";
    for (int i = 0; i < 40; ++i) {
        odd += "\u00e9"; // two bytes each: byte 64 falls inside one
    }
    std::string cut = truncate_utf8(odd, 64);
    EXPECT_TRUE(is_valid_utf8(cut));
    EXPECT_EQ(cut, "a" + std::string(odd.substr(1, 62)) + "\u2026");
    std::string euros;
    for (int i = 0; i < 10; ++i) {
        euros += "\u20ac"; // three bytes each
    }
    for (std::size_t limit = 0; limit < euros.size(); ++limit) {
        EXPECT_TRUE(is_valid_utf8(truncate_utf8(euros, limit))) << limit;
    }
    EXPECT_TRUE(is_valid_utf8(truncate_utf8(std::string("ab\xc3"), 10)))
        << "invalid input is repaired";
}
