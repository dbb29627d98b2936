#pragma once

#include "core/error.hpp"
#include "oauth/client.hpp"

namespace provisiond::oauth {

class ClientRepository {
public:
    virtual ~ClientRepository() = default;
    virtual Result<std::optional<OAuthClient>> find(std::string_view client_id) = 0;
    /// Fails with ErrorCode::conflict when the client id exists.
    virtual Result<void> insert(const OAuthClient& client) = 0;
    /// Every client but the deleted ones.
    virtual Result<std::vector<OAuthClient>> list() = 0;
    /// False when no such client (a deleted client is never enabled again).
    virtual Result<bool> set_active(std::string_view client_id, bool active, std::int64_t now) = 0;
    /// Turns one capability ("create_accounts", "provision_resources", "deep_links") or the
    /// operator's "verified" mark on or off;
    /// false when no such client.
    virtual Result<bool> set_capability(std::string_view client_id, std::string_view capability,
                                        bool on, std::int64_t now) = 0;
    /// CIMD: inserts the client, or updates what its document decides (name, redirect URIs, logo,
    /// scope ceiling, verified organization), leaving the operator's switches and limits alone.
    virtual Result<void> save_document_client(const OAuthClient& client) = 0;
    /// Sets (or with nullopt clears) one endpoint's override; false when no such client.
    virtual Result<bool> set_rate_limit(std::string_view client_id, std::string_view endpoint,
                                        std::optional<std::int64_t> per_hour, std::int64_t now) = 0;
    /// `provisiond clients edit`: replaces an operator-registered client's name, redirect URIs
    /// and scope ceiling; false when there is no such live registered client.
    virtual Result<bool> update_registered(const OAuthClient& client) = 0;
    /// Tombstones a client (inactive, deleted_at set); false when no such client or already
    /// deleted.
    virtual Result<bool> mark_deleted(std::string_view client_id, std::int64_t now) = 0;
};

} // namespace provisiond::oauth
