#pragma once
// POST /provisioning/account_requests: a partner asks for an account for its user.
// New email → account + welcome email + authorization code. Existing email → never a silent
// code: a consent URL (requires_auth). The request id makes retries idempotent (docs/API.md).

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "core/unit_of_work.hpp"
#include "oauth/partner_directory.hpp"
#include "ratelimit/partner_rate_limiter.hpp"

namespace provisiond::provisioning {

/// The request, already type-checked by the endpoint; semantic checks happen here, in
/// PostHog's E2 order.
struct AccountRequest {
    std::optional<std::string> id;
    std::optional<std::string> email;
    std::string name;
    std::optional<std::string> client_id;
    std::optional<std::vector<std::string>> scopes;
    std::optional<std::string> expires_at;
    std::string region = "US";
    std::optional<std::string> organization_name;
    std::optional<std::string> code_challenge;
    std::optional<std::string> code_challenge_method;
    std::string remote_address; ///< the caller's address (new-client registration limits)
};

struct AccountRequestAnswer {
    enum class Kind { oauth, requires_auth, registering };
    Kind kind = Kind::oauth;
    std::string code;                     ///< oauth
    std::string url;                      ///< requires_auth
    std::int64_t retry_after_seconds = 0; ///< registering: a new metadata-document client
};

class AccountRequestService {
public:
    AccountRequestService(UnitOfWork& uow, const Clock& clock, oauth::PartnerDirectory& partners,
                          ratelimit::PartnerRateLimiter& limiter, const Config& config)
        : uow_(uow), clock_(clock), partners_(partners), limiter_(limiter), config_(config) {}

    Result<AccountRequestAnswer> handle(const AccountRequest& request);

    /// Answers are counted there by outcome (new, requires_auth, registering, or the error).
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    Result<AccountRequestAnswer> handle_steps(const AccountRequest& request);
    TelemetryHook telemetry_;
    struct Checked; // a request that passed every check
    Result<AccountRequestAnswer> decide(Repositories& r, const Checked& checked);
    Result<std::optional<AccountRequestAnswer>> answer_retry(Repositories& r,
                                                             const Checked& checked);
    Result<AccountRequestAnswer> create_account(Repositories& r, const Checked& checked);
    Result<AccountRequestAnswer> ask_consent(Repositories& r, const Checked& checked,
                                             const std::string& user_id);

    UnitOfWork& uow_;
    const Clock& clock_;
    oauth::PartnerDirectory& partners_;
    ratelimit::PartnerRateLimiter& limiter_;
    const Config& config_;
};

} // namespace provisiond::provisioning
