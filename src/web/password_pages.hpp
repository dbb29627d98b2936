#pragma once
// A person's own account: "Forgot password?" (a link by email), the account page with
// "change password", and "sign out everywhere" (docs/PAGES.md).

#include "web/web_context.hpp"

namespace provisiond::web {

class PasswordPages {
public:
    explicit PasswordPages(WebContext context);

    /// GET /account/forgot-password
    http::Response show_forgot(const http::Request& request);
    /// POST /account/forgot-password: the same "check your email" page for every address.
    http::Response send_reset_link(const http::Request& request);
    /// GET /account
    http::Response show_account(const http::Request& request);
    /// POST /account/password: the current password, then the new one twice.
    http::Response change_password(const http::Request& request);
    /// POST /account/sign-out-everywhere: ends every session of the user, this one included.
    http::Response sign_out_everywhere(const http::Request& request);

private:
    http::Response account_page(const Visitor& visitor, const std::string& notice,
                                const std::string& error, unsigned status);
    WebContext c_;
};

} // namespace provisiond::web
