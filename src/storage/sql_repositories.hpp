#pragma once
// The SQL implementation of every repository, written once for all backends (portable SQL with
// $n placeholders; integer Unix seconds; JSON as text), and the UnitOfWork that binds them to a
// transaction on a pooled connection.

#include "storage/database.hpp"
#include "storage/unit_of_work.hpp"

namespace provisiond::storage {

class SqlUnitOfWork final : public UnitOfWork {
public:
    explicit SqlUnitOfWork(Database& db) : db_(db) {}
    Result<void> run(TransactionMode mode,
                     const std::function<Result<void>(Repositories&)>& work) override;
    bool ping() override;

private:
    Database& db_;
};

std::unique_ptr<accounts::AccountRepository> make_sql_account_repository(Connection& c);
std::unique_ptr<oauth::ClientRepository> make_sql_client_repository(Connection& c);
std::unique_ptr<oauth::GrantRepository> make_sql_grant_repository(Connection& c);
std::unique_ptr<provisioning::ProvisioningRepository>
make_sql_provisioning_repository(Connection& c);
std::unique_ptr<ratelimit::RateLimitRepository> make_sql_rate_limit_repository(Connection& c);
std::unique_ptr<outbox::OutboxRepository> make_sql_outbox_repository(Connection& c);
std::unique_ptr<cimd::DocumentRepository> make_sql_document_repository(Connection& c);
std::unique_ptr<cimd::VerificationTokenRepository>
make_sql_verification_token_repository(Connection& c);
std::unique_ptr<web::BrowserRepository> make_sql_browser_repository(Connection& c);
std::unique_ptr<webhooks::WebhookRepository> make_sql_webhook_repository(Connection& c);
std::unique_ptr<maintenance::PurgeRepository> make_sql_purge_repository(Connection& c);
std::unique_ptr<audit::AuditRepository> make_sql_audit_repository(Connection& c);

} // namespace provisiond::storage
