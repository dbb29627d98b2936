#pragma once
// Reading the Cookie header and writing Set-Cookie values.

#include "http/message.hpp"

#include <optional>
#include <string>

namespace provisiond::web {

std::optional<std::string> read_cookie(const http::Request& request, std::string_view name);

struct CookieOptions {
    bool secure = true;
    std::string same_site = "Lax";
    std::int64_t max_age_seconds = -1; ///< -1: a session cookie; 0: delete
};

/// A Set-Cookie value: always HttpOnly and Path=/.
std::string cookie_header(std::string_view name, std::string_view value,
                          const CookieOptions& options);

} // namespace provisiond::web
