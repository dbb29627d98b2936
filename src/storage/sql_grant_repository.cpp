#include "core/strings.hpp"
#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

using oauth::AccessToken;
using oauth::AuthorizationCode;
using oauth::RefreshToken;
using oauth::TokenFamily;

constexpr std::string_view code_columns =
    "code_hash, client_id, user_id, organization_id, project_id, scopes, code_challenge, "
    "code_challenge_method, redirect_uri, issued_at, expires_at, consumed_at, family_id";
constexpr std::string_view family_columns =
    "id, client_id, user_id, organization_id, scopes, project_ids, created_at, revoked_at";
constexpr std::string_view refresh_columns =
    "token_hash, family_id, parent_hash, access_token_hash, created_at, expires_at, rotated_at, "
    "grace_used, revoked_at";

AuthorizationCode code_from(const Row& r) {
    return AuthorizationCode{r.text(0),          r.text(1),     r.text(2),
                             r.text(3),          r.integer(4),  split_spaces(r.text(5)),
                             r.text(6),          r.text(7),     r.optional_text(8),
                             r.integer(9),       r.integer(10), r.optional_integer(11),
                             r.optional_text(12)};
}

TokenFamily family_from(const Row& r) {
    return TokenFamily{r.text(0),
                       r.text(1),
                       r.text(2),
                       r.text(3),
                       split_spaces(r.text(4)),
                       integers_from_json_array(r.text(5)),
                       r.integer(6),
                       r.optional_integer(7)};
}

RefreshToken refresh_from(const Row& r) {
    return RefreshToken{r.text(0),
                        r.text(1),
                        r.optional_text(2),
                        r.text(3),
                        r.integer(4),
                        r.integer(5),
                        r.optional_integer(6),
                        r.integer(7) != 0,
                        r.optional_integer(8)};
}

class SqlGrantRepository final : public oauth::GrantRepository {
public:
    explicit SqlGrantRepository(Connection& c) : c_(c) {}

    Result<void> insert_code(const AuthorizationCode& k) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO authorization_codes (" + std::string(code_columns) +
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    {k.code_hash, k.client_id, k.user_id, k.organization_id, k.project_id,
                     join(k.scopes, " "), k.code_challenge, k.code_challenge_method,
                     optional_text(k.redirect_uri), k.issued_at, k.expires_at,
                     optional_int(k.consumed_at), optional_text(k.family_id)}));
        return {};
    }

    Result<std::optional<AuthorizationCode>> find_code(std::string_view hash) override {
        return first<AuthorizationCode>(query(c_,
                                              "SELECT " + std::string(code_columns) +
                                                  " FROM authorization_codes WHERE code_hash = $1",
                                              {std::string(hash)}),
                                        code_from);
    }

    Result<bool> consume_code(std::string_view hash, std::string_view family_id,
                              std::int64_t now) override {
        // The compare-and-set that makes a code single-use across threads and processes.
        return execute_one(c_,
                           "UPDATE authorization_codes SET consumed_at = $1, family_id = $2 "
                           "WHERE code_hash = $3 AND consumed_at IS NULL AND expires_at > $1",
                           {now, std::string(family_id), std::string(hash)});
    }

    Result<void> delete_code(std::string_view hash) override {
        RETURN_IF_ERROR(execute(c_, "DELETE FROM authorization_codes WHERE code_hash = $1",
                                {std::string(hash)}));
        return {};
    }

    Result<void> insert_family(const TokenFamily& f) override {
        return execute_deferred(c_,
                                "INSERT INTO token_families (" + std::string(family_columns) +
                                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                                {f.id, f.client_id, f.user_id, f.organization_id,
                                 join(f.scopes, " "), to_json_array(f.project_ids), f.created_at,
                                 optional_int(f.revoked_at)});
    }

    Result<std::optional<TokenFamily>> find_family(std::string_view id) override {
        return first<TokenFamily>(
            query(c_,
                  "SELECT " + std::string(family_columns) + " FROM token_families WHERE id = $1",
                  {std::string(id)}),
            family_from);
    }

    Result<void> revoke_family(std::string_view id, std::string_view reason,
                               std::int64_t now) override {
        std::string family(id);
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE token_families SET revoked_at = $1, revoked_reason = $2 "
                                "WHERE id = $3 AND revoked_at IS NULL",
                                {now, std::string(reason), family}));
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE access_tokens SET revoked_at = $1 "
                                "WHERE family_id = $2 AND revoked_at IS NULL",
                                {now, family}));
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE refresh_tokens SET revoked_at = $1 "
                                "WHERE family_id = $2 AND revoked_at IS NULL",
                                {now, family}));
        return {};
    }

    Result<void> set_family_projects(std::string_view id,
                                     const std::vector<std::int64_t>& project_ids) override {
        RETURN_IF_ERROR(execute(c_, "UPDATE token_families SET project_ids = $1 WHERE id = $2",
                                {to_json_array(project_ids), std::string(id)}));
        return {};
    }

    Result<void> set_family_scopes(std::string_view id,
                                   const std::vector<std::string>& scopes) override {
        return execute_deferred(c_, "UPDATE token_families SET scopes = $1 WHERE id = $2",
                                {join(scopes, " "), std::string(id)});
    }

    Result<std::vector<TokenFamily>> live_families(std::string_view client_id,
                                                   std::string_view user_id) override {
        return families_where("client_id = $1 AND user_id = $2",
                              {std::string(client_id), std::string(user_id)});
    }

    Result<std::vector<TokenFamily>> live_families_of_client(std::string_view client_id) override {
        return families_where("client_id = $1", {std::string(client_id)});
    }

    Result<std::vector<TokenFamily>> live_families_of_user(std::string_view user_id) override {
        return families_where("user_id = $1", {std::string(user_id)});
    }

    Result<std::int64_t> expire_unused_codes_of_client(std::string_view client_id,
                                                       std::int64_t now) override {
        return execute(c_,
                       "UPDATE authorization_codes SET expires_at = $1 WHERE client_id = $2 AND "
                       "consumed_at IS NULL AND expires_at > $1",
                       {now, std::string(client_id)});
    }

    Result<std::int64_t> expire_unused_codes_of_user(std::string_view user_id,
                                                     std::int64_t now) override {
        return execute(c_,
                       "UPDATE authorization_codes SET expires_at = $1 WHERE user_id = $2 AND "
                       "consumed_at IS NULL AND expires_at > $1",
                       {now, std::string(user_id)});
    }

    Result<void> insert_access_token(const AccessToken& t) override {
        return execute_deferred(
            c_,
            "INSERT INTO access_tokens (token_hash, family_id, created_at, "
            "expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
            {t.token_hash, t.family_id, t.created_at, t.expires_at, optional_int(t.revoked_at)});
    }

    Result<std::optional<AccessToken>> find_access_token(std::string_view hash) override {
        return first<AccessToken>(
            query(c_,
                  "SELECT token_hash, family_id, created_at, expires_at, revoked_at "
                  "FROM access_tokens WHERE token_hash = $1",
                  {std::string(hash)}),
            [](const Row& r) {
                return AccessToken{r.text(0), r.text(1), r.integer(2), r.integer(3),
                                   r.optional_integer(4)};
            });
    }

    Result<void> revoke_access_token(std::string_view hash, std::int64_t now) override {
        return execute_deferred(c_,
                                "UPDATE access_tokens SET revoked_at = $1 "
                                "WHERE token_hash = $2 AND revoked_at IS NULL",
                                {now, std::string(hash)});
    }

    Result<void> insert_refresh_token(const RefreshToken& t) override {
        return execute_deferred(c_,
                                "INSERT INTO refresh_tokens (" + std::string(refresh_columns) +
                                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                {t.token_hash, t.family_id, optional_text(t.parent_hash),
                                 t.access_token_hash, t.created_at, t.expires_at,
                                 optional_int(t.rotated_at), std::int64_t{t.grace_used},
                                 optional_int(t.revoked_at)});
    }

    Result<std::optional<RefreshToken>> find_refresh_token(std::string_view hash) override {
        return first<RefreshToken>(query(c_,
                                         "SELECT " + std::string(refresh_columns) +
                                             " FROM refresh_tokens WHERE token_hash = $1",
                                         {std::string(hash)}),
                                   refresh_from);
    }

    Result<bool> mark_rotated(std::string_view hash, std::int64_t now) override {
        return execute_one(c_,
                           "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 "
                           "AND rotated_at IS NULL AND revoked_at IS NULL AND NOT EXISTS "
                           "(SELECT 1 FROM token_families f WHERE f.id = "
                           "refresh_tokens.family_id AND f.revoked_at IS NOT NULL)",
                           {now, std::string(hash)});
    }

    Result<bool> spend_grace(std::string_view hash) override {
        return execute_one(c_,
                           "UPDATE refresh_tokens SET grace_used = 1 WHERE token_hash = $1 "
                           "AND grace_used = 0",
                           {std::string(hash)});
    }

    Result<std::optional<RefreshToken>> find_newest_child(std::string_view parent) override {
        return first<RefreshToken>(
            query(c_,
                  // Within the parent's family, through its index: parent_hash has none, and
                  // a scan of every refresh token would hold the writer on each reuse.
                  "SELECT " + std::string(refresh_columns) +
                      " FROM refresh_tokens WHERE family_id = (SELECT family_id FROM "
                      "refresh_tokens WHERE token_hash = $1) AND parent_hash = $1 "
                      "ORDER BY created_at DESC, revoked_at IS NULL DESC LIMIT 1",
                  {std::string(parent)}),
            refresh_from);
    }

    Result<void> revoke_refresh_token(std::string_view hash, std::int64_t now) override {
        ASSIGN_OR_RETURN(auto token, find_refresh_token(hash));
        if (!token) {
            return {};
        }
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE refresh_tokens SET revoked_at = $1 "
                                "WHERE token_hash = $2 AND revoked_at IS NULL",
                                {now, std::string(hash)}));
        return revoke_access_token(token->access_token_hash, now);
    }

private:
    /// Unrevoked families matching `where`, oldest first.
    Result<std::vector<TokenFamily>> families_where(const std::string& where,
                                                    const std::vector<Value>& params) {
        ASSIGN_OR_RETURN(auto rows, c_.query("SELECT " + std::string(family_columns) +
                                                 " FROM token_families WHERE " + where +
                                                 " AND revoked_at IS NULL ORDER BY created_at, id",
                                             params));
        std::vector<TokenFamily> out;
        for (const auto& r : rows) {
            out.push_back(family_from(r));
        }
        return out;
    }

    Connection& c_;
};

} // namespace

std::unique_ptr<oauth::GrantRepository> make_sql_grant_repository(Connection& c) {
    return std::make_unique<SqlGrantRepository>(c);
}

} // namespace provisiond::storage
