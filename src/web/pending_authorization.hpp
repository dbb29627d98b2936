#pragma once
// A consent waiting for a person, whichever way it started: an account request for an existing
// user (requires_auth; only that user may approve) or GET /oauth/authorize (any user who logs in).
// Both are found by the state in the consent URL, stored as SHA-256.

#include "core/unit_of_work.hpp"
#include "oauth/client.hpp"

#include <optional>
#include <string>
#include <vector>

namespace provisiond::web {

struct PendingAuthorization {
    enum class Kind { account_request, standard };
    Kind kind = Kind::account_request;
    std::string state_hash;
    oauth::OAuthClient client;
    std::optional<std::string> expected_user_id; ///< account_request: only this user may approve
    std::optional<std::string> expected_email;   ///< account_request: that user's address
    std::vector<std::string> scopes;
    std::string code_challenge;
    std::string redirect_uri;                ///< where the answer goes
    std::optional<std::string> echoed_state; ///< the `state` sent back with the answer
    bool bind_redirect_uri = false;          ///< standard: the code is bound to redirect_uri
};

/// A state as it may appear in a consent URL: 1–256 of [A-Za-z0-9_-].
bool is_valid_state(std::string_view state);

/// The live pending authorization for a consent URL's state, or nullopt (unknown or expired).
Result<std::optional<PendingAuthorization>>
find_pending_authorization(Repositories& r, std::string_view state, std::int64_t now);

/// Removes it (approved, denied, or its client is gone).
Result<void> forget_pending_authorization(Repositories& r, const PendingAuthorization& pending);

/// The consent page's path for a state.
std::string consent_path(std::string_view state);

} // namespace provisiond::web
