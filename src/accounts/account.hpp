#pragma once
// People and what they own: users, organizations (with members and roles) and projects.

#include <cstdint>
#include <optional>
#include <string>

namespace provisiond::accounts {

struct User {
    std::string id;               ///< UUID
    std::string email;            ///< for display and delivery: trimmed, NFC, as sent
    std::string email_normalized; ///< the identity key (accounts/email_address.hpp): unique
    std::string first_name;
    std::string name;
    std::optional<std::string> password_hash; ///< Argon2id; unset until the user sets it
    bool email_verified = false;
    std::int64_t created_at = 0;
};

enum class Role { owner, admin, member };
std::string_view to_string(Role role);

struct Organization {
    std::string id; ///< UUID
    std::string name;
    std::string region; ///< "US" or "EU"
    std::int64_t created_at = 0;
};

/// A project (PostHog's "team"): integer id, and a public `phc_` project token.
struct Project {
    std::int64_t id = 0;
    std::string organization_id;
    std::string name;
    std::string api_token;
    std::int64_t created_at = 0;
};

/// A project as listed in the token response's `available_teams`.
struct TeamSummary {
    std::int64_t id = 0;
    std::string name;
    std::string organization_id;
    std::string organization_name;
};

} // namespace provisiond::accounts
