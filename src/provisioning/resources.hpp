#pragma once
// The resource endpoints: provision a project for the bearer's account and hand back its
// credentials (project token, host, personal API key); read, rotate and remove it.

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/unit_of_work.hpp"
#include "oauth/bearer.hpp"
#include "ratelimit/partner_rate_limiter.hpp"

namespace provisiond::provisioning {

struct CreateResource {
    std::string service_id = "analytics";
    std::optional<std::string> project_id;   ///< the partner's own id for the project
    std::optional<std::string> project_name; ///< configuration.project_name
    std::optional<std::string> label_prefix; ///< already validated
};

/// The answer's `complete.access_configuration` plus what surrounds it.
struct ResourceCredentials {
    std::int64_t project_id = 0;
    std::string service_id;
    std::string api_key; ///< phc_…
    std::string host;
    std::optional<std::string> personal_api_key; ///< phx_…, only when minted
};

/// Accepted service ids.
bool is_known_service(std::string_view service_id);

class ResourceService {
public:
    ResourceService(UnitOfWork& uow, const Clock& clock, ratelimit::PartnerRateLimiter& limiter,
                    const Config& config)
        : uow_(uow), clock_(clock), limiter_(limiter), config_(config) {}

    Result<ResourceCredentials> create(const oauth::BearerContext& caller,
                                       const CreateResource& request);
    Result<ResourceCredentials> get(const oauth::BearerContext& caller,
                                    std::string_view resource_id);
    Result<ResourceCredentials> rotate(const oauth::BearerContext& caller,
                                       std::string_view resource_id,
                                       const std::optional<std::string>& label_prefix);
    Result<std::int64_t> remove(const oauth::BearerContext& caller, std::string_view resource_id);

    /// The rate-limit charge for a create, separate so that the endpoint can run it before
    /// validating the body (PostHog's order).
    Result<void> charge_create(const oauth::BearerContext& caller);

private:
    Result<std::int64_t> reachable_project(const oauth::BearerContext& caller,
                                           std::string_view id) const;

    UnitOfWork& uow_;
    const Clock& clock_;
    ratelimit::PartnerRateLimiter& limiter_;
    const Config& config_;
};

} // namespace provisiond::provisioning
