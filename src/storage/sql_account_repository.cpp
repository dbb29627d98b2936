#include "storage/sql_repositories.hpp"

#include <cctype>

namespace provisiond::storage {
namespace {

using accounts::Membership;
using accounts::Organization;
using accounts::OrganizationSummary;
using accounts::Project;
using accounts::Role;
using accounts::TeamSummary;
using accounts::User;

constexpr std::string_view user_columns =
    "id, email, email_normalized, first_name, name, password_hash, email_verified, created_at, "
    "disabled_at";

User user_from(const Row& r) {
    return User{r.text(0),         r.text(1),    r.text(2),
                r.text(3),         r.text(4),    r.optional_text(5),
                r.integer(6) != 0, r.integer(7), r.optional_integer(8)};
}

/// A LIKE pattern matching `text` anywhere (lower-cased); its % and _ are escaped with a backslash,
/// so they match themselves.
std::string contains_pattern(std::string_view text) {
    std::string out = "%";
    for (char ch : text) {
        if (ch == '%' || ch == '_' || ch == '\\') {
            out.push_back('\\');
        }
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    }
    return out + "%";
}

Project project_from(const Row& r) {
    return Project{r.integer(0), r.text(1), r.text(2), r.text(3), r.integer(4)};
}

class SqlAccountRepository final : public accounts::AccountRepository {
public:
    explicit SqlAccountRepository(Connection& c) : c_(c) {}

    Result<std::optional<User>> find_user_by_email(std::string_view email) override {
        return find_one_user("SELECT " + std::string(user_columns) +
                                 " FROM users WHERE email_normalized = $1",
                             email);
    }

    Result<std::optional<User>> find_user(std::string_view id) override {
        return find_one_user("SELECT " + std::string(user_columns) + " FROM users WHERE id = $1",
                             id);
    }

    Result<void> insert_user(const User& u) override {
        RETURN_IF_ERROR(execute(c_,
                                "INSERT INTO users (id, email, email_normalized, first_name, name, "
                                "password_hash, email_verified, created_at) "
                                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                                {u.id, u.email, u.email_normalized, u.first_name, u.name,
                                 optional_text(u.password_hash),
                                 std::int64_t{u.email_verified ? 1 : 0}, u.created_at}));
        return {};
    }

    Result<void> insert_organization(const Organization& o) override {
        RETURN_IF_ERROR(execute(c_,
                                "INSERT INTO organizations (id, name, region, created_at) "
                                "VALUES ($1, $2, $3, $4)",
                                {o.id, o.name, o.region, o.created_at}));
        return {};
    }

    Result<std::optional<Organization>> find_organization(std::string_view id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_, "SELECT id, name, region, created_at FROM organizations WHERE id = $1",
                  {std::string(id)}));
        if (rows.empty()) {
            return std::optional<Organization>{};
        }
        const Row& r = rows.front();
        return std::optional<Organization>{
            Organization{r.text(0), r.text(1), r.text(2), r.integer(3)}};
    }

    Result<void> insert_membership(std::string_view org, std::string_view user, Role role,
                                   std::int64_t now) override {
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO memberships (organization_id, user_id, role, created_at) "
            "VALUES ($1, $2, $3, $4)",
            {std::string(org), std::string(user), std::string(accounts::to_string(role)), now}));
        return {};
    }

    Result<bool> is_member(std::string_view org, std::string_view user) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_, "SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2",
                  {std::string(org), std::string(user)}));
        return !rows.empty();
    }

    Result<Project> insert_project(std::string_view org, std::string_view name,
                                   std::string_view api_token, std::int64_t now) override {
        ASSIGN_OR_RETURN(
            auto rows, query(c_,
                             "INSERT INTO projects (organization_id, name, api_token, created_at) "
                             "VALUES ($1, $2, $3, $4) RETURNING id",
                             {std::string(org), std::string(name), std::string(api_token), now}));
        return Project{rows.at(0).integer(0), std::string(org), std::string(name),
                       std::string(api_token), now};
    }

    Result<std::optional<Project>> find_project(std::int64_t id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_,
                  "SELECT id, organization_id, name, api_token, created_at FROM projects "
                  "WHERE id = $1",
                  {id}));
        if (rows.empty()) {
            return std::optional<Project>{};
        }
        return std::optional<Project>{project_from(rows.front())};
    }

    Result<std::optional<Project>> find_project_by_token(std::string_view api_token) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_,
                  "SELECT id, organization_id, name, api_token, created_at FROM projects "
                  "WHERE api_token = $1",
                  {std::string(api_token)}));
        if (rows.empty()) {
            return std::optional<Project>{};
        }
        return std::optional<Project>{project_from(rows.front())};
    }

    Result<bool> set_project_token(std::int64_t id, std::string_view api_token) override {
        return execute_one(c_, "UPDATE projects SET api_token = $1 WHERE id = $2",
                           {std::string(api_token), id});
    }

    Result<std::vector<TeamSummary>> teams_of_user(std::string_view user) override {
        ASSIGN_OR_RETURN(auto rows, query(c_,
                                          "SELECT p.id, p.name, o.id, o.name FROM projects p "
                                          "JOIN organizations o ON o.id = p.organization_id "
                                          "JOIN memberships m ON m.organization_id = o.id "
                                          "WHERE m.user_id = $1 ORDER BY p.id",
                                          {std::string(user)}));
        std::vector<TeamSummary> teams;
        for (const auto& r : rows) {
            teams.push_back(TeamSummary{r.integer(0), r.text(1), r.text(2), r.text(3)});
        }
        return teams;
    }

    Result<void> replace_password_set_token(std::string_view hash, std::string_view user,
                                            std::int64_t now, std::int64_t expires_at) override {
        RETURN_IF_ERROR(
            // Only links still live (through the expiry index: user_id has none); expired
            // ones work no more and are left to the sweeper.
            execute(c_,
                    "DELETE FROM password_set_tokens WHERE user_id = $1 AND used_at IS NULL "
                    "AND expires_at > $2",
                    {std::string(user), now}));
        RETURN_IF_ERROR(execute(c_,
                                "INSERT INTO password_set_tokens (token_hash, user_id, created_at, "
                                "expires_at) VALUES ($1, $2, $3, $4)",
                                {std::string(hash), std::string(user), now, expires_at}));
        return {};
    }

    Result<std::optional<std::string>> password_link_owner(std::string_view hash,
                                                           std::int64_t now) override {
        return first<std::string>(
            query(c_,
                  // EXISTS, a lookup by the user's key: `user_id IN (SELECT id FROM users …)`
                  // copied every user into a temporary index on each set-password page.
                  "SELECT user_id FROM password_set_tokens p WHERE token_hash = $1 AND "
                  "used_at IS NULL AND expires_at > $2 AND EXISTS (SELECT 1 FROM users u "
                  "WHERE u.id = p.user_id AND u.disabled_at IS NULL)",
                  {std::string(hash), now}),
            [](const Row& r) { return r.text(0); });
    }

    Result<std::vector<User>> list_users(std::string_view email_contains) override {
        auto rows = query(c_,
                          "SELECT " + std::string(user_columns) +
                              " FROM users WHERE lower(email) LIKE $1 ESCAPE '\\' OR "
                              "email_normalized LIKE $1 ESCAPE '\\' ORDER BY created_at, id",
                          {contains_pattern(email_contains)});
        return all_of<User>(std::move(rows), user_from);
    }

    Result<bool> set_user_disabled(std::string_view user_id,
                                   std::optional<std::int64_t> disabled_at) override {
        return execute_one(c_, "UPDATE users SET disabled_at = $1 WHERE id = $2",
                           {optional_int(disabled_at), std::string(user_id)});
    }

    Result<std::vector<Membership>> memberships_of_user(std::string_view user_id) override {
        return memberships("m.user_id = $1 ORDER BY m.created_at, o.id", user_id);
    }

    Result<std::vector<Membership>>
    members_of_organization(std::string_view organization_id) override {
        return memberships("m.organization_id = $1 ORDER BY m.created_at, u.email_normalized",
                           organization_id);
    }

    Result<std::vector<OrganizationSummary>> list_organizations() override {
        auto rows =
            query(c_, "SELECT o.id, o.name, o.region, o.created_at, "
                      "(SELECT COUNT(*) FROM memberships m WHERE m.organization_id = o.id), "
                      "(SELECT COUNT(*) FROM projects p WHERE p.organization_id = o.id) "
                      "FROM organizations o ORDER BY o.created_at, o.id");
        return all_of<OrganizationSummary>(std::move(rows), [](const Row& r) {
            return OrganizationSummary{Organization{r.text(0), r.text(1), r.text(2), r.integer(3)},
                                       r.integer(4), r.integer(5)};
        });
    }

    Result<std::vector<Project>>
    projects_of_organization(std::string_view organization_id) override {
        auto rows = query(c_,
                          "SELECT id, organization_id, name, api_token, created_at FROM projects "
                          "WHERE organization_id = $1 ORDER BY id",
                          {std::string(organization_id)});
        return all_of<Project>(std::move(rows), project_from);
    }

private:
    template <class T, class F>
    static Result<std::vector<T>> all_of(Result<std::vector<Row>> rows, F convert) {
        if (!rows) {
            return rows.error();
        }
        std::vector<T> out;
        for (const auto& r : *rows) {
            out.push_back(convert(r));
        }
        return out;
    }

    /// Memberships joined with their organization and user, filtered and ordered by `where`.
    Result<std::vector<Membership>> memberships(const std::string& where, std::string_view key) {
        auto rows = query(c_,
                          "SELECT o.id, o.name, u.id, u.email, m.role, m.created_at "
                          "FROM memberships m JOIN organizations o ON o.id = m.organization_id "
                          "JOIN users u ON u.id = m.user_id WHERE " +
                              where,
                          {std::string(key)});
        return all_of<Membership>(std::move(rows), [](const Row& r) {
            return Membership{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.integer(5)};
        });
    }

    Result<std::optional<User>> find_one_user(const std::string& sql, std::string_view key) {
        ASSIGN_OR_RETURN(auto rows, query(c_, sql, {std::string(key)}));
        if (rows.empty()) {
            return std::optional<User>{};
        }
        return std::optional<User>{user_from(rows.front())};
    }

    Connection& c_;
};

} // namespace

std::unique_ptr<accounts::AccountRepository> make_sql_account_repository(Connection& c) {
    return std::make_unique<SqlAccountRepository>(c);
}

} // namespace provisiond::storage
