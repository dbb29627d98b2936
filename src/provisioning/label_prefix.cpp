#include "provisioning/label_prefix.hpp"

#include "core/strings.hpp"
#include "core/unicode.hpp"

#include <boost/json.hpp>

namespace provisiond::provisioning {
namespace {

bool is_unicode_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

Error invalid(std::string message) {
    return make_error(ErrorCode::invalid_label_prefix, std::move(message));
}

} // namespace

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
        if (is_invisible(c)) {
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
