#include "outbox/welcome_email.hpp"

#include "outbox/email_template.hpp"

namespace provisiond::outbox {
namespace {

std::string link_note(std::int64_t hours) {
    return "This link works once and expires in " + std::to_string(hours) +
           (hours == 1 ? " hour." : " hours.");
}

} // namespace

Email compose_welcome_email(const WelcomeEmailInput& in, const Config& config, std::int64_t now) {
    const std::string& product = config.branding.product_name;
    EmailContent content;
    content.kind = "welcome";
    content.subject = in.partner_name + " created your " + product + " account";
    content.greeting = in.first_name.empty() ? "Hi," : "Hi " + in.first_name + ",";
    content.before = {in.partner_name + " created an account for you on " + product +
                      ", with the organization \"" + in.organization_name +
                      "\" and a first project."};
    content.action_label = "Set your password";
    content.action_url = in.set_password_url;
    content.action_note = link_note(in.link_lifetime_hours);
    content.after = {"If you did not expect this email, you can ignore it: nobody can sign in as "
                     "you without this link."};
    content.links = {{"Your dashboard", in.dashboard_url}};
    return outbox::compose_email(content, config, in.recipient, in.user_id, now);
}

Email compose_password_link_email(const PasswordLinkInput& in, const Config& config,
                                  std::int64_t now) {
    bool reset = in.reason == PasswordLinkReason::reset;
    EmailContent content;
    content.kind = reset ? "password_reset" : "password_link";
    content.subject = reset ? "Reset your " + config.branding.product_name + " password"
                            : "Your link to set a " + config.branding.product_name + " password";
    content.greeting = "Hi,";
    content.before = {reset ? "Someone, hopefully you, asked to reset the password of this "
                              "account. Choose a new one with the link below; every device "
                              "signed in to the account is signed out."
                            : "Here is a new link to set your password."};
    content.action_label = reset ? "Choose a new password" : "Set your password";
    content.action_url = in.set_password_url;
    content.action_note = link_note(in.link_lifetime_hours);
    content.after = {reset ? "If you did not ask for this, ignore this email: your password "
                             "stays as it is."
                           : "If you did not ask for this, you can ignore this email."};
    content.links = {{"Then log in at", in.login_url}};
    return outbox::compose_email(content, config, in.recipient, in.user_id, now);
}

} // namespace provisiond::outbox
