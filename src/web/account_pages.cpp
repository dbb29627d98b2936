#include "web/account_pages.hpp"

#include "accounts/account_repository.hpp"
#include "accounts/email_address.hpp"
#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "crypto/crypto.hpp"
#include "crypto/password.hpp"
#include "http/body.hpp"
#include "http/client_address.hpp"
#include "oauth/client_repository.hpp"
#include "outbox/welcome_email.hpp"
#include "ratelimit/fixed_window.hpp"
#include "ratelimit/rate_limit_repository.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"
#include "web/form_post.hpp"
#include "web/login_throttle.hpp"
#include "web/notices.hpp"
#include "web/page.hpp"
#include "web/password_link.hpp"
#include "web/password_rules.hpp"
#include "web/pending_authorization.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

namespace provisiond::web {
namespace {

constexpr std::int64_t login_attempts_per_window = 20; ///< set-password tries per address, 15 min
const LoginLimits login_limits;

/// What a person whose account the operator disabled (`provisiond users disable`) is told.
std::string account_disabled_message(const Config& config) {
    const std::string& support = config.branding.support_email;
    return "This account is disabled. Contact support" +
           (support.empty() ? std::string(".") : " at " + support + ".");
}

} // namespace

AccountPages::AccountPages(WebContext context)
    : c_(context), decoy_hash_(crypto::decoy_password_hash()) {}

http::Response AccountPages::login_page(const Visitor& visitor, const std::string& next,
                                        const std::string& email, const std::string& error,
                                        unsigned status, const std::string& notice) {
    PageData data;
    data.set("title", "Log in");
    data.set("csrf", visitor.csrf);
    data.set("next", next);
    data.set("email", email);
    if (!error.empty()) {
        data.set("error", error);
    }
    if (!notice.empty()) {
        data.set("notice", notice);
    }
    // When the login leads to a consent, say which account to use and for which partner.
    if (next.rfind("/api/agentic/authorize?", 0) == 0) {
        http::Request inner;
        inner.query = next.substr(next.find('?') + 1);
        if (auto state = http::query_param(inner, "state")) {
            (void)c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
                auto pending = find_pending_authorization(r, *state, c_.clock.now());
                if (pending && *pending) {
                    data.set("partner_name", (*pending)->client.name);
                    data.set("expected_email", (*pending)->expected_email.value_or("your account"));
                    if (email.empty() && (*pending)->expected_email) {
                        data.set("email", *(*pending)->expected_email);
                    }
                }
                return {};
            });
        }
    }
    auto response = c_.pages.render("login", data, {status, {}});
    c_.sessions.finish(response, visitor);
    return response;
}

http::Response AccountPages::link_expired(const Visitor& visitor, bool sent) {
    PageData data;
    data.set("title", "Link expired");
    data.set("csrf", visitor.csrf);
    data.set("sent", sent);
    // After "send a new link" the page itself is fine (200); an unusable link is 410 Gone.
    auto response = c_.pages.render("link_expired", data, {sent ? 200u : 410u, {}});
    c_.sessions.finish(response, visitor);
    return response;
}

http::Response AccountPages::show_login(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    std::string next = safe_next(http::query_param(request, "next").value_or("/dashboard"));
    if (visitor->user) {
        return redirect(next);
    }
    std::string error;
    if (http::query_param(request, "error") == "expired_or_invalid_token") {
        error = "That sign-in link has expired or was already used. Log in with your password.";
    } else if (http::query_param(request, "error") == "set_password_first") {
        error = "Set your password with the link in your welcome email first, then log in.";
    } else if (http::query_param(request, "error") == "account_disabled") {
        error = account_disabled_message(c_.config);
    }
    return login_page(*visitor, next, "", error, 200, notice_for(request));
}

http::Response AccountPages::log_in(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const Visitor* visitor = &std::get<FormPost>(post).visitor;
    const boost::json::object* form = &std::get<FormPost>(post).fields;
    std::string next = safe_next(form_field(*form, "next"));
    std::string email = form_field(*form, "email");
    std::string password = form_field(*form, "password");
    std::int64_t now = c_.clock.now();
    bool throttled = false;
    std::optional<accounts::User> user;
    // An address that does not parse names nobody, but costs the same work below.
    auto parsed = accounts::parse_email(email);
    std::string account = parsed ? parsed->key : email;
    auto read = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto reserved,
                         reserve_login_attempt(r.rate_limits(), login_limits, account,
                                               request.remote_address, now));
        throttled = !reserved;
        if (throttled || !parsed) {
            return {};
        }
        ASSIGN_OR_RETURN(auto found, r.accounts().find_user_by_email(parsed->key));
        user = found;
        return {};
    });
    if (!read) {
        return c_.pages.storage_trouble(read.error());
    }
    if (throttled) {
        return login_page(*visitor, next, email,
                          "Too many attempts. Wait a few minutes, then try again.", 429);
    }
    // The same work whether or not the account exists: no timing answer to "is X a user?".
    bool has_password = user && user->password_hash;
    bool verified =
        password.size() <= max_password_length &&
        crypto::verify_password(has_password ? *user->password_hash : decoy_hash_, password);
    bool ok = has_password && verified;
    if (!ok || user->disabled_at) {
        // Recorded for the account it names (an unknown address names none, and is not kept).
        std::string reason = !user ? "no_account" : !ok ? "wrong_password" : "account_disabled";
        auto recorded = c_.uow.run(TransactionMode::write, [&](Repositories& r) {
            return r.audit().record(audit::make_audit(
                "login.failed", {"user", user ? user->id : "", "", request.remote_address},
                {{"reason", reason}}, now));
        });
        if (!recorded) {
            return c_.pages.storage_trouble(recorded.error());
        }
    }
    if (!ok) {
        return login_page(*visitor, next, email,
                          "Email or password is incorrect. New accounts set a password from the "
                          "welcome email first.",
                          401);
    }
    if (user->disabled_at) {
        // Said only to whoever proved the password (after the same work as any attempt, which
        // stays counted): a stranger learns nothing, and the owner learns why, instead of
        // resetting a password that would not let them in either.
        return login_page(*visitor, next, email, account_disabled_message(c_.config), 403);
    }
    auto refunded = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(refund_login_attempt(r.rate_limits(), login_limits, account,
                                             request.remote_address, now));
        return r.audit().record(audit::make_audit(
            "login.succeeded", {"user", user->id, "", request.remote_address}, {}, now));
    });
    if (!refunded) {
        return c_.pages.storage_trouble(refunded.error());
    }
    auto cookie = c_.sessions.log_in(request, user->id);
    if (!cookie) {
        return c_.pages.storage_trouble(cookie.error());
    }
    auto response = redirect(next);
    response.set_header("Set-Cookie", *cookie);
    return response;
}

http::Response AccountPages::log_out(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const boost::json::object* form = &std::get<FormPost>(post).fields;
    auto cookie = c_.sessions.log_out(request);
    if (!cookie) {
        return c_.pages.storage_trouble(cookie.error());
    }
    auto response = redirect("/login?next=" + url_encode(safe_next(form_field(*form, "next"))));
    response.set_header("Set-Cookie", *cookie);
    return response;
}

http::Response AccountPages::show_set_password(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    std::string token = http::query_param(request, "token").value_or("");
    auto user = link_owner(token);
    if (!user) {
        return link_expired(*visitor, false);
    }
    PageData data;
    data.set("csrf", visitor->csrf);
    data.set("title", "Set your password");
    data.set("token", token);
    data.set("email", user->email);
    auto response = c_.pages.render("set_password", data);
    c_.sessions.finish(response, *visitor);
    return response;
}

std::optional<accounts::User> AccountPages::link_owner(const std::string& token) {
    std::optional<accounts::User> user;
    if (token.empty() || token.size() > 128) {
        return user;
    }
    // Look, do not consume: the link is spent only when a password is set.
    (void)c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        auto owner = r.accounts().password_link_owner(crypto::sha256_hex(token), c_.clock.now());
        if (owner && *owner) {
            auto found = r.accounts().find_user(**owner);
            if (found && *found) {
                user = **found;
            }
        }
        return {};
    });
    return user;
}

http::Response AccountPages::set_password(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const Visitor* visitor = &std::get<FormPost>(post).visitor;
    const boost::json::object* form = &std::get<FormPost>(post).fields;
    std::string token = form_field(*form, "token");
    std::string password = form_field(*form, "password");
    auto again = [&](const std::string& error) {
        PageData data;
        data.set("title", "Set your password");
        data.set("csrf", visitor->csrf);
        data.set("token", token);
        data.set("error", error);
        // Say again whose password this is (the page read "Choose a password for ." before).
        if (auto user = link_owner(token)) {
            data.set("email", user->email);
        }
        auto response = c_.pages.render("set_password", data, {400, {}});
        c_.sessions.finish(response, *visitor);
        return response;
    };
    if (auto problem = new_password_problem(password, form_field(*form, "password_confirm"));
        !problem.empty()) {
        return again(problem);
    }
    // Check the link (and the caller's pace) before the deliberately expensive hash.
    bool live = false;
    bool throttled = false;
    auto checked = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(
            auto counted,
            ratelimit::count_in_window(r.rate_limits(),
                                       "set_password:" + http::limit_key(request.remote_address),
                                       900, login_attempts_per_window, c_.clock.now()));
        throttled = counted.over_limit;
        ASSIGN_OR_RETURN(auto owner, r.accounts().password_link_owner(crypto::sha256_hex(token),
                                                                      c_.clock.now()));
        live = owner.has_value();
        return {};
    });
    if (!checked) {
        return c_.pages.storage_trouble(checked.error());
    }
    if (throttled) {
        return c_.pages.message(429, "Too many attempts", "Wait a few minutes, then try again.");
    }
    if (!live) {
        return link_expired(*visitor, false);
    }
    auto hashed = crypto::hash_password(password);
    if (!hashed) {
        return c_.pages.storage_trouble(
            make_error(ErrorCode::unavailable, "", "Argon2id hashing failed (out of memory?)"));
    }
    std::optional<std::string> user_id;
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto owner, r.browser().consume_password_link(crypto::sha256_hex(token),
                                                                       c_.clock.now()));
        user_id = owner;
        if (!user_id) {
            return {};
        }
        RETURN_IF_ERROR(r.browser().set_password(*user_id, *hashed));
        RETURN_IF_ERROR(r.audit().record(
            audit::make_audit("password.set", {"user", *user_id, "", request.remote_address},
                              {{"via", "email_link"}}, c_.clock.now())));
        RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::make_event(
            "user.password_set", {{"user_id", *user_id}, {"via", "email_link"}}, c_.clock.now())));
        // Whoever was signed in as this person before (a deep link, a shared machine) is not
        // any more.
        return r.browser().delete_sessions_of(*user_id);
    });
    if (!done) {
        return c_.pages.storage_trouble(done.error());
    }
    if (!user_id) {
        return link_expired(*visitor, false);
    }
    auto cookie = c_.sessions.log_in(request, *user_id);
    if (!cookie) {
        return c_.pages.storage_trouble(cookie.error());
    }
    auto response = redirect("/dashboard");
    response.set_header("Set-Cookie", *cookie);
    return response;
}

http::Response AccountPages::resend_link(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const Visitor* visitor = &std::get<FormPost>(post).visitor;
    const boost::json::object* form = &std::get<FormPost>(post).fields;
    // The same page whether or not the address has an account (or storage answered).
    (void)request_password_link(c_, request, form_field(*form, "email"),
                                outbox::PasswordLinkReason::new_link);
    return link_expired(*visitor, true);
}

http::Response AccountPages::deep_link_login(const http::Request& request) {
    std::string token = http::query_param(request, "token").value_or("");
    if (token.empty()) {
        return redirect("/login?error=expired_or_invalid_token");
    }
    if (request.method == "HEAD") {
        return redirect("/login"); // link scanners must not spend a single-use link
    }
    std::optional<DeepLink> link;
    bool verified = false;
    bool disabled = false;
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        if (token.size() > 128) {
            return {};
        }
        ASSIGN_OR_RETURN(auto consumed,
                         r.browser().consume_deep_link(crypto::sha256_hex(token), c_.clock.now()));
        link = consumed;
        if (link) {
            // A link outlives nothing its partner lost: a disabled partner, or one whose
            // deep-link capability was withdrawn, logs no one in.
            ASSIGN_OR_RETURN(auto client, r.clients().find(link->client_id));
            if (!client || !client->is_active || !client->can_issue_deep_links) {
                link.reset();
                return {};
            }
            ASSIGN_OR_RETURN(auto user, r.accounts().find_user(link->user_id));
            verified = user && user->email_verified && user->password_hash;
            disabled = user && user->disabled_at;
        }
        return {};
    });
    if (!done) {
        return c_.pages.storage_trouble(done.error());
    }
    if (!link) {
        return redirect("/login?error=expired_or_invalid_token");
    }
    if (disabled) {
        return redirect("/login?error=account_disabled"); // the link is spent all the same
    }
    if (!verified) {
        // A person who never set a password (never proved the email is theirs) is not logged in
        // by a partner's link: the welcome email's link comes first.
        return redirect("/login?error=set_password_first");
    }
    auto cookie = c_.sessions.log_in(request, link->user_id);
    if (!cookie) {
        return c_.pages.storage_trouble(cookie.error());
    }
    std::string target = link->path && is_safe_path(*link->path) ? *link->path
                         : link->project_id ? "/project/" + std::to_string(*link->project_id)
                                            : "/dashboard";
    auto response = redirect(target);
    response.set_header("Set-Cookie", *cookie);
    return response;
}

} // namespace provisiond::web
