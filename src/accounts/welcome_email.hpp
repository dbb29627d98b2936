#pragma once

#include "outbox/email.hpp"

namespace provisiond::accounts {

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
outbox::Email compose_welcome_email(const WelcomeEmailInput& input, std::int64_t now);

} // namespace provisiond::accounts

namespace provisiond::accounts {

/// A fresh set-password link, asked for from the "link expired" page.
outbox::Email compose_password_link_email(const std::string& user_id, const std::string& recipient,
                                          const std::string& set_password_url,
                                          const std::string& login_url,
                                          std::int64_t link_lifetime_hours, std::int64_t now);

} // namespace provisiond::accounts
