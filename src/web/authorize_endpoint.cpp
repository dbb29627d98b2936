#include "web/authorize_endpoint.hpp"

#include "core/strings.hpp"
#include "core/url.hpp"
#include "crypto/crypto.hpp"
#include "http/body.hpp"
#include "http/client_address.hpp"
#include "http/error_envelope.hpp"
#include "oauth/pkce.hpp"
#include "oauth/scopes.hpp"
#include "ratelimit/fixed_window.hpp"
#include "ratelimit/rate_limit_repository.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"
#include "web/page.hpp"
#include "web/pending_authorization.hpp"

#include <algorithm>

namespace provisiond::web {
namespace {

constexpr std::size_t max_client_state_length = 1024;
constexpr std::int64_t authorize_requests_per_minute = 60; ///< per address

/// An error we must not redirect (unknown client, unregistered redirect URI): shown as a page.
http::Response error_page(const web::Pages& pages, const std::string& message) {
    return pages.message(400, "This sign-in request is not valid",
                         message +
                             " Go back to the app you came from; it needs fixing on its side.");
}

} // namespace

http::Response AuthorizeEndpoint::handle(const http::Request& request) {
    auto param = [&](std::string_view key) { return http::query_param(request, key); };
    auto client_id = param("client_id");
    if (!client_id || client_id->empty()) {
        return error_page(c_.pages, "The request has no client_id.");
    }
    auto client = clients_.find_client_now(*client_id, request.remote_address);
    if (!client && client.error().code == ErrorCode::unavailable) {
        // Our side (every metadata fetch slot busy, or storage not answering), not the app's
        // fault: say so, and when to retry; the detail goes to the access log.
        auto busy = c_.pages.message(503, "Please try again in a moment",
                                     "We could not check this app just now. Reload this page "
                                     "in a few seconds to continue.");
        busy.debug = client.error().debug.empty() ? client.error().message : client.error().debug;
        busy.set_header("Retry-After", std::to_string(http::unavailable_retry_after_seconds));
        return busy;
    }
    if (!client) {
        return error_page(c_.pages,
                          client.error().code == ErrorCode::rate_limited
                              ? client.error().message
                              : "The app could not be identified: " + client.error().message);
    }
    if (!client->is_active) {
        return error_page(c_.pages, "This app is deactivated.");
    }
    auto redirect_uri = param("redirect_uri");
    const bool redirect_uri_sent = redirect_uri.has_value();
    if (!redirect_uri) {
        if (client->redirect_uris.size() != 1) {
            return error_page(c_.pages,
                              "The request has no redirect_uri, and the app registered several.");
        }
        redirect_uri = client->redirect_uris.front();
    }
    // Exact string match against the registration or the metadata document (RFC 9700 §2.1).
    if (std::find(client->redirect_uris.begin(), client->redirect_uris.end(), *redirect_uri) ==
        client->redirect_uris.end()) {
        return error_page(c_.pages, "The redirect_uri is not one the app registered.");
    }
    auto client_state = param("state");
    if (client_state && client_state->size() > max_client_state_length) {
        return error_page(c_.pages, "The state parameter is too long.");
    }
    // From here on the redirect URI is trusted: errors go back to the app (RFC 6749 §4.1.2.1).
    auto fail = [&](std::string error, std::string description) {
        std::vector<std::pair<std::string, std::string>> params{{"error", error},
                                                                {"error_description", description}};
        if (client_state) {
            params.emplace_back("state", *client_state);
        }
        params.emplace_back("iss", c_.config.public_url);
        return web::redirect(append_query(*redirect_uri, params));
    };
    if (param("response_type") != "code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    auto challenge = param("code_challenge");
    if (!challenge || !oauth::is_valid_code_challenge(*challenge)) {
        return fail("invalid_request",
                    "code_challenge is required: 43-128 base64url characters (PKCE S256)");
    }
    if (param("code_challenge_method") != "S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    std::optional<std::vector<std::string>> requested;
    if (auto scope = param("scope"); scope && !scope->empty()) {
        requested = split_spaces(*scope);
    }
    auto scopes = oauth::resolve_requested_scopes(requested, client->scopes);
    if (!scopes) {
        return fail("invalid_scope", scopes.error().message);
    }
    std::string state = crypto::random_urlsafe_token();
    std::int64_t now = c_.clock.now();
    bool throttled = false;
    auto stored = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        // Each request stores a row before anyone logs in: bound them per address.
        ASSIGN_OR_RETURN(auto counted, ratelimit::count_in_window(
                                           r.rate_limits(),
                                           "authorize:" + http::limit_key(request.remote_address),
                                           60, authorize_requests_per_minute, now));
        if (counted.over_limit) {
            throttled = true;
            return {};
        }
        RETURN_IF_ERROR(r.browser().purge_expired(now));
        return r.browser().insert_authorization_request(
            {crypto::sha256_hex(state), client->client_id, *redirect_uri, client_state, *scopes,
             *challenge, now, now + c_.config.lifetimes.consent_seconds, redirect_uri_sent});
    });
    if (!stored || throttled) {
        return fail("temporarily_unavailable", "Please try again in a moment");
    }
    return web::redirect(web::consent_path(state));
}

} // namespace provisiond::web
