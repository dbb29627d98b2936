#include "core/unicode.hpp"

#include "core/strings.hpp"

#include <unictype.h>

namespace provisiond {
namespace {

bool is_space_like(char32_t c) {
    return c == '\t' || c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x85 ||
           c == 0x2028 || c == 0x2029 || uc_is_property_white_space(c);
}

} // namespace

bool is_invisible(char32_t c) {
    return uc_is_general_category(c, UC_CATEGORY_Cc) || uc_is_general_category(c, UC_CATEGORY_Cf) ||
           uc_is_general_category(c, UC_CATEGORY_Zl) || uc_is_general_category(c, UC_CATEGORY_Zp) ||
           uc_is_property_default_ignorable_code_point(c);
}

std::string clean_display_text(std::string_view raw, std::size_t max_chars) {
    if (!is_valid_utf8(raw)) {
        return "";
    }
    std::vector<char32_t> out;
    bool pending_space = false;
    for (char32_t c : decode_utf8(raw)) {
        if (is_space_like(c)) {
            pending_space = true; // a line break or tab must not reach an email body or a page
            continue;
        }
        if (is_invisible(c)) {
            continue; // a name must read as it renders: no bidi overrides or zero-width characters
        }
        bool separate = pending_space && !out.empty();
        if (out.size() + (separate ? 2 : 1) > max_chars) {
            break;
        }
        if (separate) {
            out.push_back(' ');
        }
        pending_space = false;
        out.push_back(c);
    }
    return encode_utf8(out);
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
    std::string valid = is_valid_utf8(text) ? std::string(text) : encode_utf8(decode_utf8(text));
    if (valid.size() <= max_bytes) {
        return valid;
    }
    std::size_t end = max_bytes;
    // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
    while (end > 0 && (static_cast<unsigned char>(valid[end]) & 0xc0) == 0x80) {
        --end;
    }
    valid.resize(end);
    valid += "\u2026";
    return valid;
}

} // namespace provisiond
