#include "provisioning/label_prefix.hpp"

#include "core/strings.hpp"

#include <boost/json.hpp>

namespace provisiond::provisioning {
namespace {

bool is_unicode_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/// Unicode 15 category Cf.
bool is_format(char32_t c) {
    struct Range {
        char32_t first, last;
    };
    static constexpr Range ranges[] = {
        {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},   {0x06dd, 0x06dd},
        {0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x180e, 0x180e},
        {0x200b, 0x200f},   {0x202a, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
        {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
        {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
        {0xe0020, 0xe007f},
    };
    for (const auto& r : ranges) {
        if (c >= r.first && c <= r.last) {
            return true;
        }
    }
    return false;
}

Error invalid(std::string message) {
    return make_error(ErrorCode::invalid_label_prefix, std::move(message));
}

} // namespace

bool is_control_or_format(char32_t c) {
    return is_control(c) || is_format(c) || c == 0x2028 || c == 0x2029;
}

std::u32string_view trim_unicode_space(std::u32string_view text) {
    while (!text.empty() && is_unicode_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_unicode_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

Result<std::optional<std::string>> parse_label_prefix(const boost::json::value* value) {
    if (value == nullptr || value->is_null()) {
        return std::optional<std::string>{};
    }
    if (!value->is_string()) {
        return invalid("label_prefix must be a string");
    }
    auto decoded = decode_utf8(std::string_view(value->as_string()));
    std::u32string all(decoded.begin(), decoded.end());
    std::u32string_view trimmed = trim_unicode_space(all);
    if (trimmed.empty()) {
        return std::optional<std::string>{};
    }
    if (trimmed.size() > max_label_prefix_chars) {
        return invalid("label_prefix must be 25 characters or fewer");
    }
    for (char32_t c : trimmed) {
        if (is_control_or_format(c)) {
            return invalid("label_prefix must not contain control or format characters");
        }
    }
    return std::optional<std::string>{
        encode_utf8(std::vector<char32_t>(trimmed.begin(), trimmed.end()))};
}

std::string personal_key_label(const std::optional<std::string>& prefix,
                               std::string_view project_name) {
    std::string label =
        prefix ? *prefix + " - " + std::string(project_name) : std::string(project_name);
    auto points = decode_utf8(label);
    if (points.size() > max_key_label_chars) {
        points.resize(max_key_label_chars);
    }
    return encode_utf8(points);
}

} // namespace provisiond::provisioning
