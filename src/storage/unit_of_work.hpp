#pragma once
// The one way domain code reaches storage: a transaction handing out every repository bound to
// it. Domain services depend on this interface only; storage/sql_* implements it once for every
// SQL backend.

#include "accounts/account_repository.hpp"
#include "audit/audit_repository.hpp"
#include "cimd/cimd_repository.hpp"
#include "maintenance/purge_repository.hpp"
#include "oauth/client_repository.hpp"
#include "oauth/grant_repository.hpp"
#include "outbox/email.hpp"
#include "provisioning/provisioning_repository.hpp"
#include "ratelimit/rate_limit_repository.hpp"
#include "storage/connection.hpp"
#include "web/browser_repository.hpp"
#include "webhooks/webhook_repository.hpp"

#include <functional>

namespace provisiond::storage {

class Repositories {
public:
    virtual ~Repositories() = default;
    virtual accounts::AccountRepository& accounts() = 0;
    virtual oauth::ClientRepository& clients() = 0;
    virtual oauth::GrantRepository& grants() = 0;
    virtual provisioning::ProvisioningRepository& provisioning() = 0;
    virtual ratelimit::RateLimitRepository& rate_limits() = 0;
    virtual outbox::OutboxRepository& outbox() = 0;
    virtual cimd::DocumentRepository& documents() = 0;
    virtual cimd::VerificationTokenRepository& verification_tokens() = 0;
    virtual web::BrowserRepository& browser() = 0;
    virtual webhooks::WebhookRepository& webhooks() = 0;
    virtual maintenance::PurgeRepository& purges() = 0;
    virtual audit::AuditRepository& audit() = 0;
};

class UnitOfWork {
public:
    virtual ~UnitOfWork() = default;
    /// Runs `work` in one transaction; commits when it succeeds, rolls back when it fails.
    /// A domain rule that must both persist a change and fail the request (revoking a token
    /// family on reuse) records its failure in a local and returns success.
    virtual Result<void> run(TransactionMode mode,
                             const std::function<Result<void>(Repositories&)>& work) = 0;
    /// True when the database answers a trivial query (readiness).
    virtual bool ping() = 0;
};

} // namespace provisiond::storage
