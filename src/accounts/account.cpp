#include "accounts/account.hpp"

#include <algorithm>

namespace provisiond::accounts {

std::string_view to_string(Role role) {
    switch (role) {
    case Role::owner:
        return "owner";
    case Role::admin:
        return "admin";
    case Role::member:
        return "member";
    }
    return "member";
}

std::string normalize_email(std::string_view email) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!email.empty() && is_space(email.front())) {
        email.remove_prefix(1);
    }
    while (!email.empty() && is_space(email.back())) {
        email.remove_suffix(1);
    }
    std::string out(email);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

bool is_valid_email(std::string_view email) {
    constexpr std::size_t max_length = 254;
    if (email.empty() || email.size() > max_length) {
        return false;
    }
    for (unsigned char c : email) {
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' || c == ',') {
            return false;
        }
    }
    auto at = email.find('@');
    if (at == std::string_view::npos || at == 0 ||
        email.find('@', at + 1) != std::string_view::npos) {
        return false;
    }
    std::string_view domain = email.substr(at + 1);
    auto dot = domain.find('.');
    return !domain.empty() && dot != std::string_view::npos && dot != 0 && domain.back() != '.';
}

} // namespace provisiond::accounts
