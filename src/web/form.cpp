#include "web/form.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace provisiond::web {

std::string form_field(const boost::json::object& form, std::string_view key) {
    if (auto it = form.find(key); it != form.end() && it->value().is_string()) {
        return std::string(it->value().as_string());
    }
    return "";
}

bool is_safe_path(std::string_view path) {
    if (path.empty() || path.size() > 2000 || path.front() != '/' ||
        (path.size() > 1 && (path[1] == '/' || path[1] == '\\'))) {
        return false;
    }
    for (unsigned char c : path) {
        if (c <= 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == '\\') {
            return false;
        }
    }
    return true;
}

std::string safe_next(std::string_view next) {
    return is_safe_path(next) ? std::string(next) : "/dashboard";
}

std::string url_encode(std::string_view text) {
    return boost::urls::encode(text, boost::urls::unreserved_chars);
}

} // namespace provisiond::web
