#include "core/strings.hpp"
#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

using provisioning::AccountRequestRecord;
using provisioning::PendingConsent;
using provisioning::PersonalApiKey;

class SqlProvisioningRepository final : public provisioning::ProvisioningRepository {
public:
    explicit SqlProvisioningRepository(Connection& c) : c_(c) {}

    Result<std::optional<AccountRequestRecord>>
    find_account_request(std::string_view client_id, std::string_view request_id) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_,
                  "SELECT client_id, request_id, email_normalized, code_challenge, outcome, "
                  "user_id, organization_id, project_id, code_hash, created_at "
                  "FROM account_requests WHERE client_id = $1 AND request_id = $2",
                  {std::string(client_id), std::string(request_id)}));
        if (rows.empty()) {
            return std::optional<AccountRequestRecord>{};
        }
        const Row& r = rows.front();
        return std::optional<AccountRequestRecord>{AccountRequestRecord{
            r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.optional_text(6),
            r.optional_integer(7), r.optional_text(8), r.integer(9)}};
    }

    Result<void> save_account_request(const AccountRequestRecord& a) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO account_requests (client_id, request_id, email_normalized, "
                    "code_challenge, "
                    "outcome, user_id, organization_id, project_id, code_hash, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                    "ON CONFLICT (client_id, request_id) DO UPDATE SET "
                    "email_normalized = excluded.email_normalized, code_challenge = "
                    "excluded.code_challenge, "
                    "outcome = excluded.outcome, user_id = excluded.user_id, "
                    "organization_id = excluded.organization_id, project_id = excluded.project_id, "
                    "code_hash = excluded.code_hash, created_at = excluded.created_at",
                    {a.client_id, a.request_id, a.email_normalized, a.code_challenge, a.outcome,
                     a.user_id, optional_text(a.organization_id), optional_int(a.project_id),
                     optional_text(a.code_hash), a.created_at}));
        return {};
    }

    Result<void> replace_pending_consent(const PendingConsent& p) override {
        RETURN_IF_ERROR(execute(c_,
                                "DELETE FROM pending_consents WHERE client_id = $1 AND "
                                "email_normalized = $2",
                                {p.client_id, p.email_normalized}));
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO pending_consents (state_hash, client_id, email_normalized, user_id, "
            "scopes, "
            "region, code_challenge, code_challenge_method, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            {p.state_hash, p.client_id, p.email_normalized, p.user_id, join(p.scopes, " "),
             p.region, p.code_challenge, p.code_challenge_method, p.created_at, p.expires_at}));
        return {};
    }

    Result<std::optional<std::int64_t>> find_binding(std::string_view client_id,
                                                     std::string_view external_id) override {
        ASSIGN_OR_RETURN(auto rows,
                         query(c_,
                               "SELECT project_id FROM project_bindings WHERE client_id = $1 AND "
                               "external_project_id = $2",
                               {std::string(client_id), std::string(external_id)}));
        if (rows.empty()) {
            return std::optional<std::int64_t>{};
        }
        return std::optional<std::int64_t>{rows.front().integer(0)};
    }

    Result<void> insert_binding(std::string_view client_id, std::string_view external_id,
                                std::int64_t project_id) override {
        RETURN_IF_ERROR(execute(c_,
                                "INSERT INTO project_bindings (client_id, external_project_id, "
                                "project_id) VALUES ($1, $2, $3)",
                                {std::string(client_id), std::string(external_id), project_id}));
        return {};
    }

    Result<void> save_service(std::int64_t project_id, std::string_view client_id,
                              std::string_view service_id, std::int64_t now) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO project_provisioning (project_id, client_id, "
                    "service_id, updated_at) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (project_id) DO UPDATE SET "
                    "service_id = excluded.service_id, updated_at = excluded.updated_at",
                    {project_id, std::string(client_id), std::string(service_id), now}));
        return {};
    }

    Result<std::optional<std::string>> find_service(std::int64_t project_id) override {
        ASSIGN_OR_RETURN(auto rows,
                         query(c_,
                               "SELECT service_id FROM project_provisioning WHERE project_id = $1",
                               {project_id}));
        if (rows.empty()) {
            return std::optional<std::string>{};
        }
        return std::optional<std::string>{rows.front().text(0)};
    }

    Result<void> delete_service(std::int64_t project_id, std::string_view client_id) override {
        RETURN_IF_ERROR(execute(c_,
                                "DELETE FROM project_provisioning WHERE project_id = $1 AND "
                                "client_id = $2",
                                {project_id, std::string(client_id)}));
        return {};
    }

    Result<void> insert_personal_api_key(const PersonalApiKey& k) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO personal_api_keys (id, key_hash, mask, label, scopes, user_id, "
                    "organization_id, project_id, client_id, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    {k.id, k.key_hash, k.mask, k.label, join(k.scopes, " "), k.user_id,
                     k.organization_id, k.project_id, k.client_id, k.created_at}));
        return {};
    }

    Result<std::optional<PersonalApiKey>>
    find_personal_api_key(std::string_view key_hash) override {
        ASSIGN_OR_RETURN(
            auto rows, query(c_,
                             "SELECT id, key_hash, mask, label, scopes, user_id, organization_id, "
                             "project_id, client_id, created_at, revoked_at FROM personal_api_keys "
                             "WHERE key_hash = $1",
                             {std::string(key_hash)}));
        if (rows.empty()) {
            return std::optional<PersonalApiKey>{};
        }
        const auto& r = rows.front();
        PersonalApiKey k;
        k.id = r.text(0);
        k.key_hash = r.text(1);
        k.mask = r.text(2);
        k.label = r.text(3);
        k.scopes = split_spaces(r.text(4));
        k.user_id = r.text(5);
        k.organization_id = r.text(6);
        k.project_id = r.integer(7);
        k.client_id = r.optional_text(8).value_or("");
        k.created_at = r.integer(9);
        k.revoked_at = r.optional_integer(10);
        return std::optional<PersonalApiKey>{std::move(k)};
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<provisioning::ProvisioningRepository>
make_sql_provisioning_repository(Connection& c) {
    return std::make_unique<SqlProvisioningRepository>(c);
}

} // namespace provisiond::storage
