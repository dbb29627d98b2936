#pragma once
// Partner rate limits: per client, per endpoint, fixed hourly windows kept in the database so
// that they hold across restarts and across every process sharing it.

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "core/unit_of_work.hpp"

#include <map>
#include <optional>
#include <string>

namespace provisiond::ratelimit {

enum class Endpoint { account_requests, token_exchanges, resource_creates };

std::string_view to_string(Endpoint endpoint);
/// Parses an endpoint name as used by `clients set-limit`.
std::optional<Endpoint> parse_endpoint(std::string_view name);

/// What the limiter needs to know of a partner (oauth::rate_limited_partner makes one from a
/// client): who is charged, the operator's overrides by endpoint name, and whether a
/// verification token linked it to an organization (trusted further).
struct LimitedPartner {
    std::string client_id;
    std::map<std::string, std::int64_t> overrides;
    bool verified = false;
};

class PartnerRateLimiter {
public:
    static constexpr std::int64_t window_seconds = 3600;
    static constexpr std::int64_t unlimited = -1;

    PartnerRateLimiter(UnitOfWork& uow, const Clock& clock, PartnerLimits defaults)
        : uow_(uow), clock_(clock), defaults_(defaults) {}

    /// Counts one call; fails with rate_limited (retry_after set) once the window's limit is
    /// spent. The message names the endpoint, as PostHog's does.
    Result<void> charge(const LimitedPartner& partner, Endpoint endpoint);

    /// The same, counted inside the caller's write transaction: one transaction fewer per
    /// request, and a refused call (the error rolls the transaction back) changes nothing.
    Result<void> charge_in(Repositories& r, const LimitedPartner& partner, Endpoint endpoint);

    /// The limit in force for a client (its override, else the default); -1 is unlimited.
    std::int64_t limit_for(const LimitedPartner& partner, Endpoint endpoint) const;

    /// Rejections are counted there (provisiond_rate_limit_rejections_total{endpoint}).
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    TelemetryHook telemetry_;
    UnitOfWork& uow_;
    const Clock& clock_;
    PartnerLimits defaults_;
};

} // namespace provisiond::ratelimit
