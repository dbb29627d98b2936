#pragma once
// The token engine behind POST /oauth/token: the authorization_code and refresh_token grants
// (RFC 6749 §4.1.3 and §6, RFC 7636 §4.6, RFC 9700 §2.2.2 and §4.14).

#include "accounts/account.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "core/unit_of_work.hpp"
#include "oauth/grant_repository.hpp"
#include "ratelimit/partner_rate_limiter.hpp"

namespace provisiond::oauth {

struct CodeExchange {
    std::optional<std::string> code;
    std::optional<std::string> code_verifier;
    std::optional<std::string> client_id;    ///< optional for public clients
    std::optional<std::string> redirect_uri; ///< must match when the code was bound to one
};

struct RefreshRequest {
    std::optional<std::string> refresh_token;
    std::optional<std::string> client_id;
};

/// The `account` object of a code exchange.
struct AccountSummary {
    std::string organization_id;
    std::vector<accounts::TeamSummary> available_teams;
};

struct IssuedTokens {
    std::string access_token;
    std::string refresh_token;
    std::int64_t expires_in = 0;
    std::vector<std::string> scopes;
    std::optional<AccountSummary> account; ///< on code exchange only
};

/// Thrown-free grant handlers: every failure is an Error in the OAuth vocabulary.
class TokenService {
public:
    TokenService(UnitOfWork& uow, const Clock& clock, ratelimit::PartnerRateLimiter& limiter,
                 Lifetimes lifetimes)
        : uow_(uow), clock_(clock), limiter_(limiter), lifetimes_(lifetimes) {}

    /// authorization_code: verifies PKCE before spending the code (a wrong verifier leaves it
    /// usable), charges the partner's limit, then consumes the code atomically. A code presented
    /// after it was consumed revokes every token issued from it.
    Result<IssuedTokens> exchange_code(const CodeExchange& request);

    /// refresh_token: rotates the pair. A retired token presented again revokes the family,
    /// except one retry inside the grace window (a lost response), which gets a fresh pair.
    Result<IssuedTokens> refresh(const RefreshRequest& request);

    /// Grants, code replays and family revocations are counted there.
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    Result<IssuedTokens> exchange_code_steps(const CodeExchange& request);
    Result<IssuedTokens> refresh_steps(const RefreshRequest& request);
    /// The audit events of a replayed code: the replay, and the family it revoked.
    static Result<void> record_replay(Repositories& r, const AuthorizationCode& code,
                                      const std::string& family_id, std::int64_t now);
    /// Counts one answer of the token endpoint in provisiond_token_grants_total.
    Result<IssuedTokens> counted(std::string_view grant_type, Result<IssuedTokens> answer);

    TelemetryHook telemetry_;
    UnitOfWork& uow_;
    const Clock& clock_;
    ratelimit::PartnerRateLimiter& limiter_;
    Lifetimes lifetimes_;
};

} // namespace provisiond::oauth
