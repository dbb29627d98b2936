#pragma once
// The one way domain code reaches storage: a transaction handing out the repositories bound to
// it. This header only names them: each repository interface is declared by the domain that needs
// it (accounts/account_repository.hpp, oauth/grant_repository.hpp, …), and a service includes the
// ones it uses. storage/ implements them all and is the only layer that sees the union, so storage
// depends on the domains and never the reverse (as Ory Hydra's persistence/sql and its
// client/manager.go).

#include "core/error.hpp"

#include <functional>

namespace provisiond {

namespace accounts {
class AccountRepository;
}
namespace audit {
class AuditRepository;
}
namespace cimd {
class DocumentRepository;
class VerificationTokenRepository;
} // namespace cimd
namespace maintenance {
class PurgeRepository;
}
namespace oauth {
class ClientRepository;
class GrantRepository;
} // namespace oauth
namespace outbox {
class OutboxRepository;
}
namespace provisioning {
class ProvisioningRepository;
}
namespace ratelimit {
class RateLimitRepository;
}
namespace web {
class BrowserRepository;
}
namespace webhooks {
class WebhookRepository;
}

enum class TransactionMode {
    read,  ///< a consistent snapshot; no writes
    write, ///< takes the write lock up front, so read-then-write cannot deadlock or lose updates
};

/// The repositories of one transaction.
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

} // namespace provisiond
