#pragma once
// Colours of the operator's branding: one rule for what a colour setting may be, and the WCAG 2
// contrast arithmetic that decides whether text on it stays readable.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace provisiond {

/// "#rrggbb" (either case) as its three channels; nullopt for anything else.
std::optional<std::array<int, 3>> parse_hex_color(std::string_view text);

/// WCAG 2 relative luminance of a parsed colour, 0 (black) to 1 (white).
double relative_luminance(const std::array<int, 3>& rgb);

/// WCAG 2 contrast ratio of two parsed colours, 1 to 21.
double contrast_ratio(const std::array<int, 3>& a, const std::array<int, 3>& b);

/// The text colour for labels on `background`: white when it reaches 4.5:1, else black.
std::string readable_ink(const std::array<int, 3>& background);

} // namespace provisiond
