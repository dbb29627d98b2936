#pragma once

#include "accounts/account.hpp"
#include "core/error.hpp"

#include <vector>

namespace provisiond::accounts {

/// Storage of users, organizations, memberships, projects and set-password tokens.
class AccountRepository {
public:
    virtual ~AccountRepository() = default;
    virtual Result<std::optional<User>> find_user_by_email(std::string_view email_normalized) = 0;
    virtual Result<std::optional<User>> find_user(std::string_view id) = 0;
    virtual Result<void> insert_user(const User& user) = 0;
    virtual Result<void> insert_organization(const Organization& org) = 0;
    virtual Result<std::optional<Organization>> find_organization(std::string_view id) = 0;
    virtual Result<void> insert_membership(std::string_view organization_id,
                                           std::string_view user_id, Role role,
                                           std::int64_t now) = 0;
    virtual Result<bool> is_member(std::string_view organization_id, std::string_view user_id) = 0;
    /// Inserts and returns the project with its new integer id.
    virtual Result<Project> insert_project(std::string_view organization_id, std::string_view name,
                                           std::string_view api_token, std::int64_t now) = 0;
    virtual Result<std::optional<Project>> find_project(std::int64_t id) = 0;
    /// The project whose current token (phc_…) this is; a rotated-away token finds nothing.
    virtual Result<std::optional<Project>> find_project_by_token(std::string_view api_token) = 0;
    /// Replaces the project token; false when the project does not exist.
    virtual Result<bool> set_project_token(std::int64_t id, std::string_view api_token) = 0;
    /// Every project in every organization the user belongs to, ordered by id.
    virtual Result<std::vector<TeamSummary>> teams_of_user(std::string_view user_id) = 0;
    /// Stores a new set-password token (its hash) and drops the user's earlier unused ones, so
    /// only the newest link works.
    virtual Result<void> replace_password_set_token(std::string_view token_hash,
                                                    std::string_view user_id, std::int64_t now,
                                                    std::int64_t expires_at) = 0;
    /// The user of a live (unused, unexpired) set-password link; nullopt otherwise, and for a
    /// disabled user (their links do not work while they are disabled).
    virtual Result<std::optional<std::string>> password_link_owner(std::string_view token_hash,
                                                                   std::int64_t now) = 0;

    // The operator's view (`provisiond users …`, `provisiond organizations …`).

    /// Users whose email contains `email_contains` (ASCII case-insensitive; "" for all), oldest
    /// first.
    virtual Result<std::vector<User>> list_users(std::string_view email_contains) = 0;
    /// Sets (a time) or clears (nullopt) the user's disabled_at; false when no such user.
    virtual Result<bool> set_user_disabled(std::string_view user_id,
                                           std::optional<std::int64_t> disabled_at) = 0;
    /// The organizations a user belongs to, with their names and the user's role.
    virtual Result<std::vector<Membership>> memberships_of_user(std::string_view user_id) = 0;
    /// Every organization with its member and project counts, oldest first.
    virtual Result<std::vector<OrganizationSummary>> list_organizations() = 0;
    /// The members of an organization, with their emails and roles, in the order they joined.
    virtual Result<std::vector<Membership>>
    members_of_organization(std::string_view organization_id) = 0;
    virtual Result<std::vector<Project>>
    projects_of_organization(std::string_view organization_id) = 0;
};

} // namespace provisiond::accounts
