#include "web/pending_authorization.hpp"

#include "accounts/account_repository.hpp"
#include "crypto/crypto.hpp"
#include "oauth/client_repository.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"

#include <cctype>

namespace provisiond::web {

bool is_valid_state(std::string_view state) {
    if (state.empty() || state.size() > 256) {
        return false;
    }
    for (unsigned char c : state) {
        if (!(std::isalnum(c) || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

Result<std::optional<PendingAuthorization>>
find_pending_authorization(Repositories& r, std::string_view state, std::int64_t now) {
    std::optional<PendingAuthorization> none;
    if (!is_valid_state(state)) {
        return none;
    }
    std::string hash = crypto::sha256_hex(state);
    PendingAuthorization out;
    out.state_hash = hash;
    ASSIGN_OR_RETURN(auto consent, r.browser().find_pending_consent(hash));
    std::string client_id;
    if (consent) {
        if (consent->expires_at <= now) {
            return none;
        }
        out.kind = PendingAuthorization::Kind::account_request;
        client_id = consent->client_id;
        out.expected_user_id = consent->user_id;
        // Shown to the person ("Log in as …"): the address as the account holds it, not the
        // identity key (which spells an IDN domain in punycode and folds case).
        ASSIGN_OR_RETURN(auto user, r.accounts().find_user(consent->user_id));
        out.expected_email = user ? user->email : consent->email_normalized;
        out.scopes = consent->scopes;
        out.code_challenge = consent->code_challenge;
        out.echoed_state = std::string(state);
    } else {
        ASSIGN_OR_RETURN(auto request, r.browser().find_authorization_request(hash));
        if (!request || request->expires_at <= now) {
            return none;
        }
        out.kind = PendingAuthorization::Kind::standard;
        client_id = request->client_id;
        out.scopes = request->scopes;
        out.code_challenge = request->code_challenge;
        out.redirect_uri = request->redirect_uri;
        out.echoed_state = request->client_state;
        out.bind_redirect_uri = request->redirect_uri_sent;
    }
    ASSIGN_OR_RETURN(auto client, r.clients().find(client_id));
    if (!client) {
        return none;
    }
    out.client = *client;
    if (out.kind == PendingAuthorization::Kind::account_request) {
        if (out.client.redirect_uris.empty()) {
            return none;
        }
        out.redirect_uri = out.client.redirect_uris.front(); // the partner's registered callback
    }
    return std::optional<PendingAuthorization>(out);
}

Result<void> forget_pending_authorization(Repositories& r, const PendingAuthorization& pending) {
    if (pending.kind == PendingAuthorization::Kind::account_request) {
        RETURN_IF_ERROR(r.browser().delete_pending_consent(pending.state_hash));
    } else {
        RETURN_IF_ERROR(r.browser().delete_authorization_request(pending.state_hash));
    }
    return {};
}

std::string consent_path(std::string_view state) {
    return "/api/agentic/authorize?state=" + url_encode(state);
}

} // namespace provisiond::web
