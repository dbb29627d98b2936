#pragma once
// What the provisioning API remembers between calls.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace provisiond::provisioning {

/// A partner's account request, keyed by (client_id, request_id): makes retries idempotent.
struct AccountRequestRecord {
    std::string client_id;
    std::string request_id;
    std::string email_normalized;
    std::string code_challenge;
    std::string outcome; ///< "oauth" | "requires_auth"
    std::string user_id;
    std::optional<std::string> organization_id;
    std::optional<std::int64_t> project_id;
    std::optional<std::string> code_hash;
    std::int64_t created_at = 0;
};

/// A consent the user must give in the browser before a code is issued (requires_auth).
struct PendingConsent {
    std::string state_hash;
    std::string client_id;
    std::string email_normalized;
    std::string user_id;
    std::vector<std::string> scopes;
    std::string region;
    std::string code_challenge;
    std::string code_challenge_method;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
};

struct PersonalApiKey {
    std::string id;
    std::string key_hash;
    std::string mask; ///< phx_...abcd
    std::string label;
    std::vector<std::string> scopes;
    std::string user_id;
    std::string organization_id;
    std::int64_t project_id = 0;
    std::string client_id;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> revoked_at;
};

} // namespace provisiond::provisioning
