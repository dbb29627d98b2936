#include "provisioning/credential_introspection.hpp"

#include "accounts/account_repository.hpp"
#include "core/strings.hpp"
#include "crypto/crypto.hpp"
#include "oauth/token_formats.hpp"
#include "provisioning/provisioning_repository.hpp"

namespace provisiond::provisioning {
namespace {

/// RFC 7662 for a personal API key (phx_…): active while not revoked, its owner still a member of
/// its organization and not disabled by the operator, and its project still there.
Result<boost::json::object> describe_personal_api_key(Repositories& r, const std::string& token) {
    boost::json::object inactive{{"active", false}};
    ASSIGN_OR_RETURN(auto key, r.provisioning().find_personal_api_key(crypto::sha256_hex(token)));
    if (!key || key->revoked_at) {
        return inactive;
    }
    ASSIGN_OR_RETURN(auto member, r.accounts().is_member(key->organization_id, key->user_id));
    ASSIGN_OR_RETURN(auto project, r.accounts().find_project(key->project_id));
    ASSIGN_OR_RETURN(auto owner, r.accounts().find_user(key->user_id));
    // A disabled owner's keys rest until `users enable` (disabling is undone; revoking is not).
    if (!member || !project || !owner || owner->disabled_at) {
        return inactive;
    }
    boost::json::object out{{"active", true},
                            {"token_type", "personal_api_key"},
                            {"scope", join(key->scopes, " ")},
                            {"sub", key->user_id},
                            {"organization_id", key->organization_id},
                            {"project_id", key->project_id},
                            {"label", key->label},
                            {"iat", key->created_at}};
    if (!key->client_id.empty()) {
        out["client_id"] = key->client_id; // the partner that had it created
    }
    return out;
}

/// RFC 7662 for a project token (phc_…): active while it is the project's current token.
Result<boost::json::object> describe_project_token(Repositories& r, const std::string& token) {
    ASSIGN_OR_RETURN(auto project, r.accounts().find_project_by_token(token));
    // A lookup by the unique index: the token is a public identifier (stored as is), so its
    // timing tells nothing a caller could not learn by sending it to the product.
    if (!project || !crypto::constant_time_equal(project->api_token, token)) {
        return boost::json::object{{"active", false}};
    }
    return boost::json::object{{"active", true},
                               {"token_type", "project_token"},
                               {"project_id", project->id},
                               {"organization_id", project->organization_id}};
}

} // namespace

bool ProvisioningCredentials::describes(std::string_view token) const {
    return token.starts_with(oauth::personal_api_key_prefix) ||
           token.starts_with(oauth::project_token_prefix);
}

Result<boost::json::object> ProvisioningCredentials::describe(Repositories& r,
                                                              const std::string& token) {
    return token.starts_with(oauth::personal_api_key_prefix) ? describe_personal_api_key(r, token)
                                                             : describe_project_token(r, token);
}

} // namespace provisiond::provisioning
