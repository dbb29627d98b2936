#include "core/color.hpp"

#include <algorithm>
#include <cmath>

namespace provisiond {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

double linear_channel(int value) {
    double c = value / 255.0;
    return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

constexpr std::array<int, 3> white{255, 255, 255};

} // namespace

std::optional<std::array<int, 3>> parse_hex_color(std::string_view text) {
    if (text.size() != 7 || text[0] != '#') {
        return std::nullopt;
    }
    std::array<int, 3> rgb{};
    for (std::size_t i = 0; i < 3; ++i) {
        int high = hex_digit(text[1 + 2 * i]);
        int low = hex_digit(text[2 + 2 * i]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        rgb[i] = high * 16 + low;
    }
    return rgb;
}

double relative_luminance(const std::array<int, 3>& rgb) {
    return 0.2126 * linear_channel(rgb[0]) + 0.7152 * linear_channel(rgb[1]) +
           0.0722 * linear_channel(rgb[2]);
}

double contrast_ratio(const std::array<int, 3>& a, const std::array<int, 3>& b) {
    double la = relative_luminance(a);
    double lb = relative_luminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

std::string readable_ink(const std::array<int, 3>& background) {
    // Black, not the pages' near-black: an accent just above 3:1 against white keeps 4.5:1 with
    // black only.
    return contrast_ratio(background, white) >= 4.5 ? "#ffffff" : "#000000";
}

} // namespace provisiond
