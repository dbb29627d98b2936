#include "oauth/authorization_codes.hpp"

#include "crypto/crypto.hpp"

namespace provisiond::oauth {

Result<MintedCode> mint_code(GrantRepository& grants, const CodeGrant& grant, std::int64_t now,
                             std::int64_t lifetime_seconds) {
    MintedCode minted;
    minted.code = crypto::random_urlsafe_token();
    minted.code_hash = crypto::sha256_hex(minted.code);
    AuthorizationCode code;
    code.code_hash = minted.code_hash;
    code.client_id = grant.client_id;
    code.user_id = grant.user_id;
    code.organization_id = grant.organization_id;
    code.project_id = grant.project_id;
    code.scopes = grant.scopes;
    code.code_challenge = grant.code_challenge;
    code.code_challenge_method = "S256";
    code.redirect_uri = grant.redirect_uri;
    code.issued_at = now;
    code.expires_at = now + lifetime_seconds;
    RETURN_IF_ERROR(grants.insert_code(code));
    return minted;
}

} // namespace provisiond::oauth
