#pragma once

#include "outbox/email.hpp"

namespace provisiond::accounts {

struct WelcomeEmailInput {
    std::string recipient;
    std::string first_name;
    std::string partner_name;
    std::string organization_name;
    std::string set_password_url; ///< carries a single-use token
    std::string dashboard_url;
    std::int64_t link_lifetime_hours = 72;
};

/// The message a newly provisioned user receives: who created the account, and how to get in.
outbox::Email compose_welcome_email(const WelcomeEmailInput& input, std::int64_t now);

} // namespace provisiond::accounts
