#pragma once
// An OAuth client (a partner): operator-registered, or self-registered through CIMD (docs/CIMD.md).
// All clients are public: PKCE is their only proof, and they never hold a secret.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace provisiond::oauth {

struct OAuthClient {
    std::string client_id;
    std::string name;
    std::string kind = "registered"; ///< "registered" | "cimd"
    std::vector<std::string> redirect_uris;
    std::vector<std::string> scopes;     ///< the ceiling: sorted, unique
    std::optional<std::string> logo_uri; ///< CIMD: from the document, when safe
    std::optional<std::string>
        organization_id; ///< CIMD: linked by a verification token ("verified")
    bool is_active = true;
    bool can_create_accounts = true;
    bool can_provision_resources = true;
    bool can_issue_deep_links = false; ///< granted by the operator (`clients set-capability`)
    bool operator_verified = false;    ///< vouched for by the operator (`clients set-verified`)
    /// Per-endpoint hourly limit overrides; -1 means unlimited.
    std::map<std::string, std::int64_t> rate_limits;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    /// Set by `provisiond clients delete`: the row stays as a tombstone (inactive for good), so
    /// the id is never given to another partner.
    std::optional<std::int64_t> deleted_at;

    /// Shown as verified: the operator vouched for it, or a verification token linked it.
    bool verified() const { return operator_verified || organization_id.has_value(); }
};

} // namespace provisiond::oauth
