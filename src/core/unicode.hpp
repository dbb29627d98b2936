#pragma once
// Unicode rules shared by every input that people and partners type: which characters are
// invisible (and so never allowed to hide in a name or an address), one cleanup for display
// text, and truncation that never splits a character. Character properties come from
// libunistring (Debian's libunistring-dev), not hand-kept tables.

#include <cstddef>
#include <string>
#include <string_view>

namespace provisiond {

/// True for characters that do not render as themselves: controls (Cc), format characters (Cf,
/// e.g. bidi overrides, zero-width joiners, tags), line and paragraph separators (Zl, Zp), and
/// every other Default_Ignorable_Code_Point (variation selectors, fillers, U+180E…).
bool is_invisible(char32_t c);

/// The one rule for display text a partner or person supplies (names of people, organizations,
/// partners): invalid UTF-8 → ""; line breaks, tabs and other whitespace runs become one space;
/// every other invisible character is removed; the result is trimmed and cut to `max_chars`
/// code points. What comes out is one line that reads as it renders.
std::string clean_display_text(std::string_view raw, std::size_t max_chars);

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a code-point boundary
/// (invalid UTF-8 in the input is replaced by U+FFFD first), so quoted input in a response stays
/// valid UTF-8. Appends "…" when it cut something.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

} // namespace provisiond
