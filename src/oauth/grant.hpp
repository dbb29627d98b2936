#pragma once
// What an authorization grants, and the artefacts minted from it. Every secret is held here only
// as its SHA-256 hex digest (`*_hash`); the raw values exist only in the response that hands
// them out.
//
// Life of a grant:
//   AuthorizationCode ──exchange──▶ TokenFamily ──▶ AccessToken + RefreshToken
//                                        │                         │ refresh
//                                        │                         ▼
//                                        └──────────▶ AccessToken + RefreshToken (parent =
//                                        previous)
// A replayed code or a reused retired refresh token revokes the whole family.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace provisiond::oauth {

struct AuthorizationCode {
    std::string code_hash;
    std::string client_id;
    std::string user_id;
    std::string organization_id;
    std::int64_t project_id = 0;
    std::vector<std::string> scopes;
    std::string code_challenge;
    std::string code_challenge_method; ///< always "S256"
    std::optional<std::string> redirect_uri;
    std::int64_t issued_at = 0;
    std::int64_t expires_at = 0;
    std::optional<std::int64_t> consumed_at;
    std::optional<std::string> family_id; ///< set when exchanged
};

/// Everything issued from one authorization, and the projects its tokens may reach.
struct TokenFamily {
    std::string id;
    std::string client_id;
    std::string user_id;
    std::string organization_id;
    std::vector<std::string> scopes;
    std::vector<std::int64_t> project_ids; ///< the first is the base project
    std::int64_t created_at = 0;
    std::optional<std::int64_t> revoked_at;
};

struct AccessToken {
    std::string token_hash;
    std::string family_id;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    std::optional<std::int64_t> revoked_at;
};

struct RefreshToken {
    std::string token_hash;
    std::string family_id;
    std::optional<std::string> parent_hash;
    std::string access_token_hash;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    std::optional<std::int64_t> rotated_at;
    bool grace_used = false;
    std::optional<std::int64_t> revoked_at;
};

} // namespace provisiond::oauth
