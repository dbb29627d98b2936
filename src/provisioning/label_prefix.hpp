#pragma once

#include "core/error.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string>

namespace provisiond::provisioning {

inline constexpr std::size_t max_label_prefix_chars = 25;
inline constexpr std::size_t max_key_label_chars = 40;

/// Validates `label_prefix` (posthog-behavior.md §3.7): absent/null → none; not a string, over
/// 25 characters after trimming, or holding an invisible character (core/unicode.hpp:
/// controls, format characters, line/paragraph separators) → invalid_label_prefix; blank → none.
Result<std::optional<std::string>> parse_label_prefix(const boost::json::value* value);

/// "<prefix> - <project name>" or the project name, cut to 40 characters (code points).
std::string personal_key_label(const std::optional<std::string>& prefix,
                               std::string_view project_name);

/// Python's str.strip(): trims Unicode white space from both ends.
std::u32string_view trim_unicode_space(std::u32string_view text);

} // namespace provisiond::provisioning
