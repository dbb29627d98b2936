#include "ratelimit/partner_rate_limiter.hpp"

#include "ratelimit/fixed_window.hpp"
#include "ratelimit/rate_limit_repository.hpp"

namespace provisiond::ratelimit {

std::string_view to_string(Endpoint endpoint) {
    switch (endpoint) {
    case Endpoint::account_requests:
        return "account_requests";
    case Endpoint::token_exchanges:
        return "token_exchanges";
    case Endpoint::resource_creates:
        return "resource_creates";
    }
    return "account_requests";
}

std::optional<Endpoint> parse_endpoint(std::string_view name) {
    for (auto e :
         {Endpoint::account_requests, Endpoint::token_exchanges, Endpoint::resource_creates}) {
        if (name == to_string(e)) {
            return e;
        }
    }
    return std::nullopt;
}

std::int64_t PartnerRateLimiter::limit_for(const LimitedPartner& partner, Endpoint endpoint) const {
    if (auto found = partner.overrides.find(std::string(to_string(endpoint)));
        found != partner.overrides.end()) {
        return found->second;
    }
    switch (endpoint) {
    case Endpoint::account_requests:
        // A client linked to an organization by a verification token is trusted further.
        return partner.verified ? defaults_.verified_account_requests : defaults_.account_requests;
    case Endpoint::token_exchanges:
        return defaults_.token_exchanges;
    case Endpoint::resource_creates:
        return defaults_.resource_creates;
    }
    return 0;
}

Result<void> PartnerRateLimiter::charge(const LimitedPartner& partner, Endpoint endpoint) {
    return uow_.run(TransactionMode::write,
                    [&](Repositories& r) { return charge_in(r, partner, endpoint); });
}

Result<void> PartnerRateLimiter::charge_in(Repositories& r, const LimitedPartner& partner,
                                           Endpoint endpoint) {
    std::int64_t limit = limit_for(partner, endpoint);
    if (limit == unlimited) {
        return {};
    }
    std::string bucket = std::string(to_string(endpoint)) + ":" + partner.client_id;
    ASSIGN_OR_RETURN(auto counted,
                     count_in_window(r.rate_limits(), bucket, window_seconds, limit, clock_.now()));
    if (counted.over_limit) {
        telemetry_->count("provisiond_rate_limit_rejections_total",
                          {{"endpoint", to_string(endpoint)}});
        Error e = make_error(ErrorCode::rate_limited, "Rate limit exceeded for this partner (" +
                                                          std::string(to_string(endpoint)) +
                                                          "). Try again later.");
        e.retry_after_seconds = counted.retry_after_seconds;
        return e;
    }
    return {};
}

} // namespace provisiond::ratelimit
