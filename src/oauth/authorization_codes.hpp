#pragma once

#include "oauth/grant_repository.hpp"

namespace provisiond::oauth {

/// What a new authorization code binds: who, where, which scopes and which PKCE challenge.
struct CodeGrant {
    std::string client_id;
    std::string user_id;
    std::string organization_id;
    std::int64_t project_id = 0;
    std::vector<std::string> scopes;
    std::string code_challenge;
    std::optional<std::string> redirect_uri;
};

struct MintedCode {
    std::string code; ///< the raw value: hand it out once, never store it
    std::string code_hash;
};

/// Stores a new single-use code (only its hash) valid for `lifetime_seconds`.
Result<MintedCode> mint_code(GrantRepository& grants, const CodeGrant& grant, std::int64_t now,
                             std::int64_t lifetime_seconds);

} // namespace provisiond::oauth
