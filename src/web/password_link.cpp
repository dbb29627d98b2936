#include "web/password_link.hpp"

#include "accounts/account_repository.hpp"
#include "accounts/email_address.hpp"
#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "crypto/crypto.hpp"
#include "http/client_address.hpp"
#include "outbox/email.hpp"
#include "ratelimit/fixed_window.hpp"
#include "ratelimit/rate_limit_repository.hpp"

namespace provisiond::web {
namespace {

constexpr std::int64_t links_per_hour_from_one_address = 3;
constexpr std::int64_t links_per_hour = 10;

} // namespace

Result<void> request_password_link(const WebContext& c, const http::Request& request,
                                   const std::string& typed_email,
                                   outbox::PasswordLinkReason reason) {
    auto parsed = accounts::parse_email(typed_email);
    std::string identity = crypto::sha256_hex(parsed ? parsed->key : typed_email);
    std::int64_t now = c.clock.now();
    return c.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto from_here,
                         ratelimit::count_in_window(r.rate_limits(),
                                                    "password_link:" + identity + ":" +
                                                        http::limit_key(request.remote_address),
                                                    3600, links_per_hour_from_one_address, now));
        if (from_here.over_limit) {
            return {};
        }
        ASSIGN_OR_RETURN(auto in_all,
                         ratelimit::count_in_window(r.rate_limits(), "password_link:" + identity,
                                                    3600, links_per_hour, now));
        if (in_all.over_limit || !parsed) {
            return {};
        }
        ASSIGN_OR_RETURN(auto user, r.accounts().find_user_by_email(parsed->key));
        if (!user || user->disabled_at) {
            return {}; // a disabled account's link would not work (password_link_owner)
        }
        const std::string& host = c.config.public_url;
        outbox::PasswordLinkInput mail;
        mail.user_id = user->id;
        mail.recipient = user->email;
        mail.set_password_url = host + "/account/set-password?token=" +
                                std::string(outbox::set_password_token_placeholder);
        mail.login_url = host + "/login";
        mail.link_lifetime_hours = c.config.lifetimes.password_link_seconds / 3600;
        mail.reason = reason;
        if (reason == outbox::PasswordLinkReason::reset) {
            RETURN_IF_ERROR(r.audit().record(
                audit::make_audit("password.reset_requested",
                                  {"user", user->id, "", request.remote_address}, {}, now)));
        }
        return r.outbox().enqueue(outbox::compose_password_link_email(mail, c.config, now));
    });
}

} // namespace provisiond::web
