#pragma once
// Storage port of what people do in the browser: sessions, set-password links, consents
// waiting for approval, deep-link logins, and what the dashboard lists.

#include "accounts/account.hpp"
#include "core/error.hpp"
#include "provisioning/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace provisiond::web {

struct Session {
    std::string id_hash;
    std::string user_id;
    std::int64_t created_at = 0;
    std::int64_t last_seen_at = 0;
    std::int64_t expires_at = 0;
};

/// A pending /oauth/authorize request (the standard flow): any user who logs in may approve it.
struct AuthorizationRequest {
    std::string state_hash;
    std::string client_id;
    std::string redirect_uri;
    std::optional<std::string> client_state;
    std::vector<std::string> scopes;
    std::string code_challenge;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    bool redirect_uri_sent = true; ///< the token request must repeat it only when it was sent
};

struct DeepLink {
    std::string token_hash;
    std::string user_id;
    std::string client_id;
    std::optional<std::int64_t> project_id;
    std::string purpose;
    std::optional<std::string> path;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
};

/// A secret sealed for the page after a redirect (crypto/one_time_seal.hpp), keyed by the SHA-256
/// of the sealing key that only the creator's browser holds.
struct Reveal {
    std::string key_hash;
    std::string user_id;
    std::string kind; ///< "personal_api_key" | "verification_token"
    std::string box;
    std::int64_t expires_at = 0;
};

struct ProjectView {
    accounts::Project project;
    std::string organization_name;
    std::string role;
};

struct KeyView {
    std::string id;
    std::string mask;
    std::string label;
    std::int64_t project_id = 0;
    std::optional<std::string> client_id;
    std::int64_t created_at = 0;
};

struct ConnectedApp {
    std::string client_id;
    std::string name;
    std::int64_t authorizations = 0;
    std::int64_t first_at = 0;
};

class BrowserRepository {
public:
    virtual ~BrowserRepository() = default;
    virtual Result<void> insert_session(const Session& session) = 0;
    virtual Result<std::optional<Session>> find_session(std::string_view id_hash) = 0;
    virtual Result<void> touch_session(std::string_view id_hash, std::int64_t now) = 0;
    virtual Result<void> delete_session(std::string_view id_hash) = 0;
    virtual Result<void> delete_sessions_of(std::string_view user_id) = 0;
    /// Deletes expired sessions, authorization requests and deep links (called as new ones are
    /// written).
    virtual Result<void> purge_expired(std::int64_t now) = 0;

    /// Marks a live set-password link used; the user's id, or nullopt when unknown, used or
    /// expired.
    virtual Result<std::optional<std::string>> consume_password_link(std::string_view token_hash,
                                                                     std::int64_t now) = 0;
    virtual Result<void> set_password(std::string_view user_id, std::string_view password_hash) = 0;

    virtual Result<std::optional<provisioning::PendingConsent>>
    find_pending_consent(std::string_view state_hash) = 0;
    virtual Result<bool> delete_pending_consent(std::string_view state_hash) = 0;
    virtual Result<void> insert_authorization_request(const AuthorizationRequest& request) = 0;
    virtual Result<std::optional<AuthorizationRequest>>
    find_authorization_request(std::string_view state_hash) = 0;
    virtual Result<bool> delete_authorization_request(std::string_view state_hash) = 0;

    virtual Result<void> insert_deep_link(const DeepLink& link) = 0;
    /// Marks a live link used and returns it; nullopt when unknown, used or expired.
    virtual Result<std::optional<DeepLink>> consume_deep_link(std::string_view token_hash,
                                                              std::int64_t now) = 0;
    virtual Result<void> insert_reveal(const Reveal& reveal) = 0;
    /// Deletes and returns the user's live reveal with this key hash: a second look finds nothing.
    virtual Result<std::optional<Reveal>>
    take_reveal(std::string_view key_hash, std::string_view user_id, std::int64_t now) = 0;

    /// Spends every unused deep link a partner issued (the partner was disabled or blocked); how
    /// many.
    virtual Result<std::int64_t> retire_deep_links_of_client(std::string_view client_id,
                                                             std::int64_t now) = 0;
    /// Deletes every consent waiting for approval for a partner (account_requests' and
    /// /oauth/authorize's), so none can be approved any more; how many.
    virtual Result<std::int64_t> withdraw_consents_of_client(std::string_view client_id) = 0;
    /// Revokes every live personal API key a partner had created; how many.
    virtual Result<std::int64_t> revoke_keys_of_client(std::string_view client_id,
                                                       std::int64_t now) = 0;

    virtual Result<std::vector<ProjectView>> projects_of_user(std::string_view user_id) = 0;
    virtual Result<std::vector<KeyView>> live_keys_of_user(std::string_view user_id) = 0;
    virtual Result<bool> revoke_key(std::string_view id, std::string_view user_id,
                                    std::int64_t now) = 0;
    virtual Result<std::vector<ConnectedApp>> connected_apps(std::string_view user_id) = 0;
    /// Revokes every live family (and so every token) of this user for this client; how many.
    virtual Result<std::int64_t> disconnect_app(std::string_view user_id,
                                                std::string_view client_id, std::int64_t now) = 0;
};

} // namespace provisiond::web
