#include "accounts/welcome_email.hpp"

#include "crypto/crypto.hpp"

namespace provisiond::accounts {

outbox::Email compose_welcome_email(const WelcomeEmailInput& in, std::int64_t now) {
    outbox::Email email;
    email.id = crypto::random_uuid();
    email.kind = "welcome";
    email.user_id = in.user_id;
    email.recipient = in.recipient;
    email.subject = in.partner_name + " created your account";
    std::string greeting = in.first_name.empty() ? "Hi," : "Hi " + in.first_name + ",";
    email.body_text = greeting + "\n\n" + in.partner_name +
                      " created an account for you, with the organization \"" +
                      in.organization_name + "\" and a first project.\n\n" +
                      "Set your password to sign in (this link works once and expires in " +
                      std::to_string(in.link_lifetime_hours) + " hours):\n" + in.set_password_url +
                      "\n\nYour dashboard:\n" + in.dashboard_url +
                      "\n\nIf you did not expect this email, you can ignore it: nobody can sign in "
                      "as you without this link.\n";
    email.created_at = now;
    email.next_attempt_at = now;
    return email;
}

} // namespace provisiond::accounts

namespace provisiond::accounts {

outbox::Email compose_password_link_email(const std::string& user_id, const std::string& recipient,
                                          const std::string& set_password_url,
                                          const std::string& login_url,
                                          std::int64_t link_lifetime_hours, std::int64_t now) {
    outbox::Email email;
    email.id = crypto::random_uuid();
    email.kind = "password_link";
    email.user_id = user_id;
    email.recipient = recipient;
    email.subject = "Your link to set a password";
    email.body_text =
        "Hi,\n\nHere is a new link to set your password (it works once and expires in " +
        std::to_string(link_lifetime_hours) + " hours):\n" + set_password_url +
        "\n\nThen log in at:\n" + login_url +
        "\n\nIf you did not ask for this, you can ignore this email.\n";
    email.created_at = now;
    email.next_attempt_at = now;
    return email;
}

} // namespace provisiond::accounts
