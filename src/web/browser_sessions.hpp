#pragma once
// Who is at the browser: the session cookie (a random id, stored as SHA-256), and the CSRF
// token every form carries (a double-submit cookie checked in constant time, plus Origin).
// A login always starts a new session id, so a planted cookie is never promoted.

#include "accounts/account.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/unit_of_work.hpp"
#include "http/message.hpp"

#include <optional>
#include <string>

namespace provisiond::web {

inline constexpr std::string_view session_cookie = "provisiond_session";
inline constexpr std::string_view csrf_cookie = "provisiond_csrf";
inline constexpr std::string_view reveal_cookie = "provisiond_reveal";

struct Visitor {
    std::optional<accounts::User> user;
    std::optional<std::string> session_hash;
    std::string csrf;      ///< the value forms on this page must carry
    bool new_csrf = false; ///< the csrf cookie must be set on the response
};

class BrowserSessions {
public:
    static constexpr std::int64_t absolute_seconds = 12 * 3600;
    static constexpr std::int64_t idle_seconds = 2 * 3600;

    BrowserSessions(UnitOfWork& uow, const Clock& clock, const Config& config);

    /// The visitor of a request: its user when the session is live, and a CSRF token.
    Result<Visitor> identify(const http::Request& request);
    /// Starts a new session for the user (the old one, if any, is deleted); the Set-Cookie value.
    Result<std::string> log_in(const http::Request& request, std::string_view user_id);
    /// Ends the session; the Set-Cookie value that clears the cookie.
    Result<std::string> log_out(const http::Request& request);
    /// The Set-Cookie value that hands the browser the key of a sealed secret for the next page
    /// view (SameSite=Strict, a few minutes); an empty value clears it.
    std::string reveal_cookie_header(std::string_view key) const;
    /// The key of a sealed secret the browser holds, if any.
    std::optional<std::string> reveal_key(const http::Request& request) const;
    /// True when the form's token equals the cookie's and the Origin, if sent, is ours.
    bool csrf_ok(const http::Request& request, std::string_view form_token) const;
    /// Adds the CSRF cookie to a response when the visitor got a new one.
    void finish(http::Response& response, const Visitor& visitor) const;

private:
    UnitOfWork& uow_;
    const Clock& clock_;
    const Config& config_;
    bool secure_;
    std::string session_name_;
    std::string csrf_name_;
    std::string reveal_name_;
};

} // namespace provisiond::web
