#pragma once

#include "core/error.hpp"
#include "oauth/grant.hpp"

namespace provisiond::oauth {

/// Storage of codes, token families and tokens. Methods that decide a race are atomic
/// compare-and-set updates and say whether this caller won.
class GrantRepository {
public:
    virtual ~GrantRepository() = default;

    virtual Result<void> insert_code(const AuthorizationCode& code) = 0;
    virtual Result<std::optional<AuthorizationCode>> find_code(std::string_view code_hash) = 0;
    /// Marks an unexpired, unconsumed code consumed by `family_id`; false if another caller
    /// consumed it first or it expired.
    virtual Result<bool> consume_code(std::string_view code_hash, std::string_view family_id,
                                      std::int64_t now) = 0;
    virtual Result<void> delete_code(std::string_view code_hash) = 0;

    virtual Result<void> insert_family(const TokenFamily& family) = 0;
    virtual Result<std::optional<TokenFamily>> find_family(std::string_view id) = 0;
    /// Revokes the family and every access and refresh token in it.
    virtual Result<void> revoke_family(std::string_view id, std::string_view reason,
                                       std::int64_t now) = 0;
    virtual Result<void> set_family_projects(std::string_view id,
                                             const std::vector<std::int64_t>& project_ids) = 0;
    virtual Result<void> set_family_scopes(std::string_view id,
                                           const std::vector<std::string>& scopes) = 0;
    /// Live (unrevoked) families of one client and user.
    virtual Result<std::vector<TokenFamily>> live_families(std::string_view client_id,
                                                           std::string_view user_id) = 0;
    /// Live families of one client, every user's (the operator deletes the client).
    virtual Result<std::vector<TokenFamily>>
    live_families_of_client(std::string_view client_id) = 0;
    /// Live families of one user, every client's (the operator disables the user).
    virtual Result<std::vector<TokenFamily>> live_families_of_user(std::string_view user_id) = 0;
    /// Expires the codes of a client that were not exchanged yet; how many.
    virtual Result<std::int64_t> expire_unused_codes_of_client(std::string_view client_id,
                                                               std::int64_t now) = 0;
    /// Expires the codes issued for a user that were not exchanged yet; how many.
    virtual Result<std::int64_t> expire_unused_codes_of_user(std::string_view user_id,
                                                             std::int64_t now) = 0;

    virtual Result<void> insert_access_token(const AccessToken& token) = 0;
    virtual Result<std::optional<AccessToken>> find_access_token(std::string_view token_hash) = 0;
    virtual Result<void> revoke_access_token(std::string_view token_hash, std::int64_t now) = 0;

    virtual Result<void> insert_refresh_token(const RefreshToken& token) = 0;
    virtual Result<std::optional<RefreshToken>> find_refresh_token(std::string_view token_hash) = 0;
    /// Marks a live refresh token of a live family rotated; false if it was already rotated,
    /// or it or its family revoked.
    virtual Result<bool> mark_rotated(std::string_view token_hash, std::int64_t now) = 0;
    /// Spends the single grace retry of a rotated token; false if already spent.
    virtual Result<bool> spend_grace(std::string_view token_hash) = 0;
    /// The newest token minted from `parent_hash`, if any.
    virtual Result<std::optional<RefreshToken>> find_newest_child(std::string_view parent_hash) = 0;
    /// Revokes one refresh token and the access token minted with it.
    virtual Result<void> revoke_refresh_token(std::string_view token_hash, std::int64_t now) = 0;
};

} // namespace provisiond::oauth
