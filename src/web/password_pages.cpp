#include "web/password_pages.hpp"

#include "accounts/email_address.hpp"
#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "crypto/password.hpp"
#include "http/body.hpp"
#include "ratelimit/rate_limit_repository.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"
#include "web/form_post.hpp"
#include "web/login_throttle.hpp"
#include "web/notices.hpp"
#include "web/page.hpp"
#include "web/password_link.hpp"
#include "web/password_rules.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

namespace provisiond::web {
namespace {

const LoginLimits login_limits;

} // namespace

PasswordPages::PasswordPages(WebContext context) : c_(context) {}

http::Response PasswordPages::show_forgot(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    PageData data;
    data.set("title", "Forgot password");
    data.set("csrf", visitor->csrf);
    data.set("email", "");
    auto response = c_.pages.render("forgot_password", data);
    c_.sessions.finish(response, *visitor);
    return response;
}

http::Response PasswordPages::send_reset_link(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const auto& [visitor, form] = std::get<FormPost>(post);
    std::string typed = form_field(form, "email");
    // One answer for every address, known or not, limited or not: the page tells nobody whether
    // an account exists. Storage trouble is the exception (the person should try again).
    auto sent = request_password_link(c_, request, typed, outbox::PasswordLinkReason::reset);
    if (!sent) {
        return c_.pages.storage_trouble(sent.error());
    }
    PageData data;
    data.set("title", "Check your email");
    data.set("sent", true);
    data.set("email", typed.substr(0, 254));
    data.set("hours", std::to_string(c_.config.lifetimes.password_link_seconds / 3600));
    auto response = c_.pages.render("forgot_password", data);
    c_.sessions.finish(response, visitor);
    return response;
}

http::Response PasswordPages::account_page(const Visitor& visitor, const std::string& notice,
                                           const std::string& error, unsigned status) {
    PageData data;
    data.set("title", "Your account");
    data.set("csrf", visitor.csrf);
    data.set("email", visitor.user->email);
    data.set("signed_in_email", visitor.user->email);
    if (!notice.empty()) {
        data.set("notice", notice);
    }
    if (!error.empty()) {
        data.set("error", error);
    }
    auto response = c_.pages.render("account", data, {status, {}});
    c_.sessions.finish(response, visitor);
    return response;
}

http::Response PasswordPages::show_account(const http::Request& request) {
    auto got = signed_in_visitor(c_, request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    return account_page(std::get<Visitor>(got), notice_for(request), "", 200);
}

http::Response PasswordPages::change_password(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const auto& [visitor, form] = std::get<FormPost>(post);
    if (!visitor.user) {
        return redirect("/login?next=%2Faccount");
    }
    const auto& user = *visitor.user;
    std::string password = form_field(form, "password");
    if (auto problem = new_password_problem(password, form_field(form, "password_confirm"));
        !problem.empty()) {
        return account_page(visitor, "", problem, 400);
    }
    // The current password is checked like a login: the same throttle, the same counters, so
    // a stolen session cannot be used to guess it faster than the login page allows.
    auto parsed = accounts::parse_email(user.email);
    std::string account = parsed ? parsed->key : user.email;
    std::int64_t now = c_.clock.now();
    bool reserved = false;
    auto counted = c_.uow.run(TransactionMode::write, [&](Repositories& r) {
        auto ok = reserve_login_attempt(r.rate_limits(), login_limits, account,
                                        request.remote_address, now);
        if (!ok) {
            return Result<void>(ok.error());
        }
        reserved = *ok;
        return Result<void>();
    });
    if (!counted) {
        return c_.pages.storage_trouble(counted.error());
    }
    if (!reserved) {
        return account_page(visitor, "", "Too many attempts. Wait a few minutes, then try again.",
                            429);
    }
    std::string current = form_field(form, "current_password");
    if (!user.password_hash || current.size() > max_password_length ||
        !crypto::verify_password(*user.password_hash, current)) {
        return account_page(visitor, "", "The current password is not right.", 401);
    }
    auto hashed = crypto::hash_password(password);
    if (!hashed) {
        return c_.pages.storage_trouble(
            make_error(ErrorCode::unavailable, "", "Argon2id hashing failed (out of memory?)"));
    }
    auto changed = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(refund_login_attempt(r.rate_limits(), login_limits, account,
                                             request.remote_address, now));
        RETURN_IF_ERROR(r.browser().set_password(user.id, *hashed));
        RETURN_IF_ERROR(r.audit().record(
            audit::make_audit("password.set", {"user", user.id, "", request.remote_address},
                              {{"via", "change"}}, now)));
        RETURN_IF_ERROR(r.webhooks().enqueue(webhooks::make_event(
            "user.password_set", {{"user_id", user.id}, {"via", "change"}}, now)));
        // Whoever else holds a session (a lost phone, a thief) is out; this browser gets a
        // new session below.
        return r.browser().delete_sessions_of(user.id);
    });
    if (!changed) {
        return c_.pages.storage_trouble(changed.error());
    }
    auto cookie = c_.sessions.log_in(request, user.id);
    if (!cookie) {
        return c_.pages.storage_trouble(cookie.error());
    }
    auto response = redirect("/account?notice=password_changed");
    response.set_header("Set-Cookie", *cookie);
    return response;
}

http::Response PasswordPages::sign_out_everywhere(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const auto& visitor = std::get<FormPost>(post).visitor;
    if (visitor.user) {
        auto ended = c_.uow.run(TransactionMode::write, [&](Repositories& r) {
            return r.browser().delete_sessions_of(visitor.user->id);
        });
        if (!ended) {
            return c_.pages.storage_trouble(ended.error());
        }
    }
    auto cookie = c_.sessions.log_out(request); // clears this browser's cookie
    if (!cookie) {
        return c_.pages.storage_trouble(cookie.error());
    }
    auto response = redirect("/login?notice=signed_out_everywhere");
    response.set_header("Set-Cookie", *cookie);
    return response;
}

} // namespace provisiond::web
