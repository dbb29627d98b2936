#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

/// Repositories bound to one connection for the span of one transaction.
class SqlRepositories final : public Repositories {
public:
    explicit SqlRepositories(Connection& c)
        : accounts_(make_sql_account_repository(c)), clients_(make_sql_client_repository(c)),
          grants_(make_sql_grant_repository(c)), provisioning_(make_sql_provisioning_repository(c)),
          rate_limits_(make_sql_rate_limit_repository(c)), outbox_(make_sql_outbox_repository(c)),
          documents_(make_sql_document_repository(c)),
          verification_tokens_(make_sql_verification_token_repository(c)),
          browser_(make_sql_browser_repository(c)), webhooks_(make_sql_webhook_repository(c)),
          purges_(make_sql_purge_repository(c)), audit_(make_sql_audit_repository(c)) {}
    accounts::AccountRepository& accounts() override { return *accounts_; }
    oauth::ClientRepository& clients() override { return *clients_; }
    oauth::GrantRepository& grants() override { return *grants_; }
    provisioning::ProvisioningRepository& provisioning() override { return *provisioning_; }
    ratelimit::RateLimitRepository& rate_limits() override { return *rate_limits_; }
    outbox::OutboxRepository& outbox() override { return *outbox_; }
    cimd::DocumentRepository& documents() override { return *documents_; }
    cimd::VerificationTokenRepository& verification_tokens() override {
        return *verification_tokens_;
    }
    web::BrowserRepository& browser() override { return *browser_; }
    webhooks::WebhookRepository& webhooks() override { return *webhooks_; }
    maintenance::PurgeRepository& purges() override { return *purges_; }
    audit::AuditRepository& audit() override { return *audit_; }

private:
    std::unique_ptr<accounts::AccountRepository> accounts_;
    std::unique_ptr<oauth::ClientRepository> clients_;
    std::unique_ptr<oauth::GrantRepository> grants_;
    std::unique_ptr<provisioning::ProvisioningRepository> provisioning_;
    std::unique_ptr<ratelimit::RateLimitRepository> rate_limits_;
    std::unique_ptr<outbox::OutboxRepository> outbox_;
    std::unique_ptr<cimd::DocumentRepository> documents_;
    std::unique_ptr<cimd::VerificationTokenRepository> verification_tokens_;
    std::unique_ptr<web::BrowserRepository> browser_;
    std::unique_ptr<webhooks::WebhookRepository> webhooks_;
    std::unique_ptr<maintenance::PurgeRepository> purges_;
    std::unique_ptr<audit::AuditRepository> audit_;
};

} // namespace

Result<void> SqlUnitOfWork::run(TransactionMode mode,
                                const std::function<Result<void>(Repositories&)>& work) {
    return db_.transact(mode, [&](Connection& c) -> Result<void> {
        SqlRepositories repositories(c);
        return work(repositories);
    });
}

bool SqlUnitOfWork::ping() {
    auto lease = db_.acquire();
    if (!lease) {
        return false;
    }
    return static_cast<bool>(query(**lease, "SELECT 1"));
}

} // namespace provisiond::storage
