#pragma once
// The emails of an account's life: the welcome email, a new set-password link, and a password
// reset. Each is words only (EmailContent); outbox/email_template.hpp renders both parts.

#include "config/config.hpp"
#include "outbox/email.hpp"

namespace provisiond::outbox {

/// Stands in the queued body for the single-use token; the sender mints it at delivery.
inline constexpr std::string_view set_password_token_placeholder = "{{set_password_token}}";

struct WelcomeEmailInput {
    std::string user_id;
    std::string recipient;
    std::string first_name;
    std::string partner_name;
    std::string organization_name;
    std::string set_password_url; ///< ends in set_password_token_placeholder
    std::string dashboard_url;
    std::int64_t link_lifetime_hours = 72;
};

/// The message a newly provisioned user receives: who created the account, and how to get in.
Email compose_welcome_email(const WelcomeEmailInput& input, const Config& config, std::int64_t now);

/// Why someone is sent a set-password link.
enum class PasswordLinkReason {
    new_link, ///< asked for from the "link expired" page
    reset,    ///< "Forgot password?" on the login page
};

struct PasswordLinkInput {
    std::string user_id;
    std::string recipient;
    std::string set_password_url; ///< ends in set_password_token_placeholder
    std::string login_url;
    std::int64_t link_lifetime_hours = 72;
    PasswordLinkReason reason = PasswordLinkReason::new_link;
};

Email compose_password_link_email(const PasswordLinkInput& input, const Config& config,
                                  std::int64_t now);

} // namespace provisiond::outbox
