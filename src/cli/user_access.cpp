#include "cli/user_access.hpp"

#include "outbox/welcome_email.hpp"
#include "webhooks/event.hpp"

#include <algorithm>

namespace provisiond::cli {

Result<UserDisabling> disable_user(Repositories& r, const accounts::User& user, std::int64_t now) {
    UserDisabling done;
    RETURN_IF_ERROR(r.accounts().set_user_disabled(user.id, now));
    // The pages also refuse a disabled person's session; deleting them signs them out now.
    RETURN_IF_ERROR(r.browser().delete_sessions_of(user.id));
    ASSIGN_OR_RETURN(auto families, r.grants().live_families_of_user(user.id));
    for (const auto& family : families) {
        RETURN_IF_ERROR(
            r.grants().revoke_family(family.id, webhooks::revoke_reason::user_disabled, now));
        if (std::find(done.partners.begin(), done.partners.end(), family.client_id) ==
            done.partners.end()) {
            done.partners.push_back(family.client_id);
        }
    }
    done.families = static_cast<std::int64_t>(families.size());
    // One event per partner: every family of the pair went (no family_id, as on a disconnect).
    for (const auto& client_id : done.partners) {
        RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::grant_revoked(
            client_id, user.id, "", webhooks::revoke_reason::user_disabled, now)));
    }
    ASSIGN_OR_RETURN(auto codes, r.grants().expire_unused_codes_of_user(user.id, now));
    done.codes = codes;
    return done;
}

Result<void> queue_password_reset(Repositories& r, const accounts::User& user, const Config& config,
                                  std::int64_t now) {
    // The same link web/password_link.cpp sends for "Forgot password?".
    outbox::PasswordLinkInput mail;
    mail.user_id = user.id;
    mail.recipient = user.email;
    mail.set_password_url = config.public_url + "/account/set-password?token=" +
                            std::string(outbox::set_password_token_placeholder);
    mail.login_url = config.public_url + "/login";
    mail.link_lifetime_hours = config.lifetimes.password_link_seconds / 3600;
    mail.reason = outbox::PasswordLinkReason::reset;
    return r.outbox().enqueue(outbox::compose_password_link_email(mail, config, now));
}

} // namespace provisiond::cli
