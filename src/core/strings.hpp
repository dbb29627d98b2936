#pragma once
// Small string helpers shared by the domains.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provisiond {

/// Splits on runs of ASCII spaces; no empty parts.
std::vector<std::string> split_spaces(std::string_view text);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
/// Sorted, without duplicates.
std::vector<std::string> sorted_unique(std::vector<std::string> items);

/// JSON array text ↔ vectors (storage columns).
std::string to_json_array(const std::vector<std::string>& items);
std::string to_json_array(const std::vector<std::int64_t>& items);
std::vector<std::string> strings_from_json_array(std::string_view json);
std::vector<std::int64_t> integers_from_json_array(std::string_view json);

/// Parses a decimal integer made only of digits that fits in int64; nullopt otherwise.
std::optional<std::int64_t> parse_positive_integer(std::string_view text);

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view text);

/// Decodes well-formed UTF-8 into code points.
std::vector<char32_t> decode_utf8(std::string_view text);
std::string encode_utf8(const std::vector<char32_t>& code_points);

/// True for C0/C1 controls (Unicode category Cc).
bool is_control(char32_t c);

} // namespace provisiond
