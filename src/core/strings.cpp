#include "core/strings.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <limits>

namespace provisiond {

std::vector<std::string> split_spaces(std::string_view text) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') {
            ++i;
        }
        std::size_t start = i;
        while (i < text.size() && text[i] != ' ') {
            ++i;
        }
        if (i > start) {
            parts.emplace_back(text.substr(start, i - start));
        }
    }
    return parts;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) {
            out.append(separator);
        }
        out.append(parts[i]);
    }
    return out;
}

std::vector<std::string> sorted_unique(std::vector<std::string> items) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    return items;
}

std::string to_json_array(const std::vector<std::string>& items) {
    boost::json::array a;
    for (const auto& s : items) {
        a.emplace_back(s);
    }
    return boost::json::serialize(a);
}

std::string to_json_array(const std::vector<std::int64_t>& items) {
    boost::json::array a;
    for (auto v : items) {
        a.emplace_back(v);
    }
    return boost::json::serialize(a);
}

std::vector<std::string> strings_from_json_array(std::string_view json) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    auto value = boost::json::parse(json, ec);
    if (ec || !value.is_array()) {
        return out;
    }
    for (const auto& v : value.as_array()) {
        if (v.is_string()) {
            out.emplace_back(v.as_string());
        }
    }
    return out;
}

std::vector<std::int64_t> integers_from_json_array(std::string_view json) {
    std::vector<std::int64_t> out;
    boost::system::error_code ec;
    auto value = boost::json::parse(json, ec);
    if (ec || !value.is_array()) {
        return out;
    }
    for (const auto& v : value.as_array()) {
        if (v.is_int64()) {
            out.push_back(v.as_int64());
        }
    }
    return out;
}

std::optional<std::int64_t> parse_positive_integer(std::string_view text) {
    if (text.empty() || text.size() > 18) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

namespace {

/// Decodes one code point at `i`; returns false on malformed input.
bool next_code_point(std::string_view s, std::size_t& i, char32_t& out) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    std::size_t length = 0;
    char32_t cp = 0;
    if (c < 0x80) {
        out = c;
        ++i;
        return true;
    } else if ((c & 0xe0) == 0xc0) {
        length = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        length = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        length = 4;
        cp = c & 0x07;
    } else {
        return false;
    }
    if (i + length > s.size()) {
        return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
        unsigned char cc = byte(i + k);
        if ((cc & 0xc0) != 0x80) {
            return false;
        }
        cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minimum[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return false;
    }
    out = cp;
    i += length;
    return true;
}

} // namespace

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    char32_t cp = 0;
    while (i < text.size()) {
        if (!next_code_point(text, i, cp)) {
            return false;
        }
    }
    return true;
}

std::vector<char32_t> decode_utf8(std::string_view text) {
    std::vector<char32_t> out;
    std::size_t i = 0;
    char32_t cp = 0;
    while (i < text.size()) {
        if (!next_code_point(text, i, cp)) {
            out.push_back(0xfffd);
            ++i;
            continue;
        }
        out.push_back(cp);
    }
    return out;
}

std::string encode_utf8(const std::vector<char32_t>& code_points) {
    std::string out;
    for (char32_t cp : code_points) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }
    return out;
}

bool is_control(char32_t c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

} // namespace provisiond
