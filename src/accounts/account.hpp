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
    std::optional<std::int64_t> disabled_at; ///< set by the operator (`provisiond users disable`)
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

/// One person in one organization, as the operator's listings show it (with the organization's
/// name when listed by user, with the person's email when listed by organization).
struct Membership {
    std::string organization_id;
    std::string organization_name;
    std::string user_id;
    std::string email;
    std::string role; ///< "owner" | "admin" | "member"
    std::int64_t created_at = 0;
};

/// An organization with how many people and projects it has (`provisiond organizations list`).
struct OrganizationSummary {
    Organization organization;
    std::int64_t members = 0;
    std::int64_t projects = 0;
};

/// A project as listed in the token response's `available_teams`.
struct TeamSummary {
    std::int64_t id = 0;
    std::string name;
    std::string organization_id;
    std::string organization_name;
};

} // namespace provisiond::accounts
