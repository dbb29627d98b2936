#pragma once
// The one rule for a new password, wherever it is chosen (set-password link, change password).

#include <cstddef>
#include <string>

namespace provisiond::web {

inline constexpr std::size_t min_password_length = 10;
inline constexpr std::size_t max_password_length = 256;

/// What is wrong with a new password and its repetition, for the page; "" when it is fine.
inline std::string new_password_problem(const std::string& password, const std::string& repeated) {
    if (password.size() < min_password_length || password.size() > max_password_length) {
        return "Use at least 10 characters (and at most 256).";
    }
    if (password != repeated) {
        return "The two passwords are not the same.";
    }
    return "";
}

} // namespace provisiond::web
