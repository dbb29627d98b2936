#include "web/browser_sessions.hpp"

#include "accounts/account_repository.hpp"
#include "crypto/crypto.hpp"
#include "web/browser_repository.hpp"
#include "web/cookies.hpp"

namespace provisiond::web {
namespace {

/// scheme://host[:port] of a URL.
std::string origin_of(std::string_view url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return std::string(url);
    }
    auto path = url.find('/', scheme_end + 3);
    return std::string(url.substr(0, path));
}

bool is_plain_http_loopback(std::string_view url) {
    for (std::string_view prefix : {"http://127.", "http://localhost", "http://[::1]"}) {
        if (url.substr(0, prefix.size()) == prefix) {
            return true;
        }
    }
    return false;
}

} // namespace

BrowserSessions::BrowserSessions(UnitOfWork& uow, const Clock& clock, const Config& config)
    : uow_(uow), clock_(clock), config_(config),
      secure_(!is_plain_http_loopback(config.public_url)),
      // Over https the __Host- prefix pins the cookies to our host and path: a sibling subdomain
      // cannot plant one (plain-http loopback cannot use the prefix, which requires Secure).
      session_name_(std::string(secure_ ? "__Host-" : "") + std::string(session_cookie)),
      csrf_name_(std::string(secure_ ? "__Host-" : "") + std::string(csrf_cookie)),
      reveal_name_(std::string(secure_ ? "__Host-" : "") + std::string(reveal_cookie)) {}

std::string BrowserSessions::reveal_cookie_header(std::string_view key) const {
    return cookie_header(reveal_name_, key, {secure_, "Strict", key.empty() ? 0 : 300});
}

std::optional<std::string> BrowserSessions::reveal_key(const http::Request& request) const {
    return read_cookie(request, reveal_name_);
}

Result<Visitor> BrowserSessions::identify(const http::Request& request) {
    Visitor visitor;
    if (auto csrf = read_cookie(request, csrf_name_);
        csrf && csrf->size() >= 32 && csrf->size() <= 128) {
        visitor.csrf = *csrf;
    } else {
        visitor.csrf = crypto::random_urlsafe_token();
        visitor.new_csrf = true;
    }
    auto id = read_cookie(request, session_name_);
    if (!id || id->empty() || id->size() > 128) {
        return visitor;
    }
    std::string hash = crypto::sha256_hex(*id);
    std::int64_t now = clock_.now();
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto session, r.browser().find_session(hash));
        if (!session) {
            return {};
        }
        if (session->expires_at <= now || session->last_seen_at + idle_seconds <= now) {
            return r.browser().delete_session(hash);
        }
        ASSIGN_OR_RETURN(auto user, r.accounts().find_user(session->user_id));
        if (!user) {
            return {};
        }
        if (user->disabled_at) {
            // `users disable` deletes the sessions it finds; one that raced it ends here.
            return r.browser().delete_session(hash);
        }
        visitor.user = *user;
        visitor.session_hash = hash;
        if (now - session->last_seen_at >= 60) {
            return r.browser().touch_session(hash, now); // at most once a minute: cheap reads
        }
        return {};
    }));
    return visitor;
}

Result<std::string> BrowserSessions::log_in(const http::Request& request,
                                            std::string_view user_id) {
    std::string id = crypto::random_urlsafe_token();
    std::int64_t now = clock_.now();
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        if (auto old = read_cookie(request, session_name_);
            old && !old->empty() && old->size() <= 128) {
            RETURN_IF_ERROR(r.browser().delete_session(crypto::sha256_hex(*old)));
        }
        RETURN_IF_ERROR(r.browser().purge_expired(now));
        return r.browser().insert_session(Session{crypto::sha256_hex(id), std::string(user_id), now,
                                                  now, now + absolute_seconds});
    }));
    return cookie_header(session_name_, id, {secure_, "Lax", absolute_seconds});
}

Result<std::string> BrowserSessions::log_out(const http::Request& request) {
    if (auto id = read_cookie(request, session_name_); id && !id->empty() && id->size() <= 128) {
        RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) {
            return r.browser().delete_session(crypto::sha256_hex(*id));
        }));
    }
    return cookie_header(session_name_, "", {secure_, "Lax", 0});
}

bool BrowserSessions::csrf_ok(const http::Request& request, std::string_view form_token) const {
    // A foreign Origin is refused. "null" (privacy-sensitive contexts) proves nothing, so then a
    // browser's Sec-Fetch-Site, when sent, must say same-origin; the token decides the rest.
    // Read at each check: with --listen HOST:0 the public URL gets its port only once bound.
    if (auto origin = request.header("origin");
        origin && *origin != origin_of(config_.public_url)) {
        if (*origin != "null") {
            return false;
        }
        if (auto site = request.header("sec-fetch-site"); site && *site != "same-origin") {
            return false;
        }
    }
    auto cookie = read_cookie(request, csrf_name_);
    return cookie && !cookie->empty() && !form_token.empty() &&
           crypto::constant_time_equal(*cookie, form_token);
}

void BrowserSessions::finish(http::Response& response, const Visitor& visitor) const {
    if (visitor.new_csrf) {
        response.set_header("Set-Cookie",
                            cookie_header(csrf_name_, visitor.csrf, {secure_, "Strict", -1}));
    }
}

} // namespace provisiond::web
