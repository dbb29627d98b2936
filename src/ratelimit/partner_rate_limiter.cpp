#include "ratelimit/partner_rate_limiter.hpp"

namespace provisiond::ratelimit {

std::string_view to_string(Endpoint endpoint) {
    switch (endpoint) {
    case Endpoint::account_requests: return "account_requests";
    case Endpoint::token_exchanges: return "token_exchanges";
    case Endpoint::resource_creates: return "resource_creates";
    }
    return "account_requests";
}

std::optional<Endpoint> parse_endpoint(std::string_view name) {
    for (auto e : {Endpoint::account_requests, Endpoint::token_exchanges, Endpoint::resource_creates}) {
        if (name == to_string(e)) {
            return e;
        }
    }
    return std::nullopt;
}

std::int64_t PartnerRateLimiter::limit_for(const oauth::OAuthClient& client, Endpoint endpoint) const {
    if (auto found = client.rate_limits.find(std::string(to_string(endpoint)));
        found != client.rate_limits.end()) {
        return found->second;
    }
    switch (endpoint) {
    case Endpoint::account_requests: return defaults_.account_requests;
    case Endpoint::token_exchanges: return defaults_.token_exchanges;
    case Endpoint::resource_creates: return defaults_.resource_creates;
    }
    return 0;
}

Result<void> PartnerRateLimiter::charge(const oauth::OAuthClient& client, Endpoint endpoint) {
    std::int64_t limit = limit_for(client, endpoint);
    if (limit == unlimited) {
        return {};
    }
    std::int64_t now = clock_.now();
    std::int64_t window_start = now - now % window_seconds;
    std::string bucket = std::string(to_string(endpoint)) + ":" + client.client_id;
    std::int64_t count = 0;
    RETURN_IF_ERROR(uow_.run(storage::TransactionMode::write, [&](storage::Repositories& r) -> Result<void> {
        auto counted = r.rate_limits().increment(bucket, window_start);
        if (!counted) {
            return counted.error();
        }
        count = *counted;
        return {};
    }));
    if (count > limit) {
        Error e = make_error(ErrorCode::rate_limited,
                             "Rate limit exceeded for this partner (" + std::string(to_string(endpoint)) +
                                 "). Try again later.");
        e.retry_after_seconds = window_start + window_seconds - now;
        return e;
    }
    return {};
}

} // namespace provisiond::ratelimit
