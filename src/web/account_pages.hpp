#pragma once
// Login, logout, and setting a password from the welcome email's link (docs/PAGES.md).

#include "accounts/account.hpp"
#include "web/web_context.hpp"

#include <optional>
#include <string>

namespace provisiond::web {

class AccountPages {
public:
    explicit AccountPages(WebContext context);

    http::Response show_login(const http::Request& request);
    http::Response log_in(const http::Request& request);
    http::Response log_out(const http::Request& request);
    http::Response show_set_password(const http::Request& request);
    http::Response set_password(const http::Request& request);
    http::Response resend_link(const http::Request& request);
    /// GET /agentic/login?token=…: a deep link from a partner; logs in and lands in the project.
    http::Response deep_link_login(const http::Request& request);

private:
    http::Response login_page(const Visitor& visitor, const std::string& next,
                              const std::string& email, const std::string& error, unsigned status,
                              const std::string& notice = "");
    /// The "link expired or used" page, with its "send a new link" form (`sent`: after sending).
    http::Response link_expired(const Visitor& visitor, bool sent);
    /// The person a live set-password link belongs to (looked at, not spent); nullopt when the
    /// link is unknown, used or expired, or storage does not answer.
    std::optional<accounts::User> link_owner(const std::string& token);
    WebContext c_;
    std::string decoy_hash_; ///< verified against when the account does not exist (equal timing)
};

} // namespace provisiond::web
