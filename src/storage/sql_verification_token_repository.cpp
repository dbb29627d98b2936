#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

using cimd::VerificationToken;

constexpr std::string_view token_columns =
    "id, organization_id, token_hash, hint, bound_client_id, created_at, revoked_at, last_used_at";

VerificationToken token_from(const Row& r) {
    return VerificationToken{r.text(0),
                             r.text(1),
                             r.text(2),
                             r.text(3),
                             r.optional_text(4),
                             r.integer(5),
                             r.optional_integer(6),
                             r.optional_integer(7)};
}

class SqlVerificationTokenRepository final : public cimd::VerificationTokenRepository {
public:
    explicit SqlVerificationTokenRepository(Connection& c) : c_(c) {}

    Result<void> insert(const VerificationToken& t) override {
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO verification_tokens (id, organization_id, token_hash, hint, "
            "bound_client_id, created_at, revoked_at, last_used_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            {t.id, t.organization_id, t.token_hash, t.hint, optional_text(t.bound_client_id),
             t.created_at, optional_int(t.revoked_at), optional_int(t.last_used_at)}));
        return {};
    }

    Result<std::vector<VerificationToken>>
    list(const std::optional<std::string>& organization_id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            organization_id
                ? query(c_,
                        "SELECT " + std::string(token_columns) +
                            " FROM verification_tokens WHERE organization_id = $1 "
                            "ORDER BY created_at DESC, id",
                        {*organization_id})
                : query(c_, "SELECT " + std::string(token_columns) +
                                " FROM verification_tokens ORDER BY created_at DESC, id"));
        std::vector<VerificationToken> out;
        for (const auto& r : rows) {
            out.push_back(token_from(r));
        }
        return out;
    }

    Result<std::optional<VerificationToken>> find_by_hash(std::string_view hash) override {
        return first<VerificationToken>(query(c_,
                                              "SELECT " + std::string(token_columns) +
                                                  " FROM verification_tokens WHERE token_hash = $1",
                                              {std::string(hash)}),
                                        token_from);
    }

    Result<std::optional<VerificationToken>> find(std::string_view id) override {
        return first<VerificationToken>(query(c_,
                                              "SELECT " + std::string(token_columns) +
                                                  " FROM verification_tokens WHERE id = $1",
                                              {std::string(id)}),
                                        token_from);
    }

    Result<bool> revoke(std::string_view id, std::int64_t now) override {
        return execute_one(c_,
                           "UPDATE verification_tokens SET revoked_at = $1 WHERE id = $2 AND "
                           "revoked_at IS NULL",
                           {now, std::string(id)});
    }

    Result<bool> bind(std::string_view id, std::string_view client_id) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "UPDATE verification_tokens SET bound_client_id = $1 WHERE id = $2 AND "
                    "bound_client_id IS NULL",
                    {std::string(client_id), std::string(id)}));
        ASSIGN_OR_RETURN(auto rows,
                         query(c_, "SELECT bound_client_id FROM verification_tokens WHERE id = $1",
                               {std::string(id)}));
        return !rows.empty() && rows.front().optional_text(0) == std::string(client_id);
    }

    Result<void> touch(std::string_view id, std::int64_t now) override {
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE verification_tokens SET last_used_at = $1 WHERE id = $2",
                                {now, std::string(id)}));
        return {};
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<cimd::VerificationTokenRepository>
make_sql_verification_token_repository(Connection& c) {
    return std::make_unique<SqlVerificationTokenRepository>(c);
}

} // namespace provisiond::storage
