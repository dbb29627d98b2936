#pragma once
// A client as the partner rate limiter sees it (ratelimit/ knows nothing of OAuth clients).

#include "oauth/client.hpp"
#include "ratelimit/partner_rate_limiter.hpp"

namespace provisiond::oauth {

inline ratelimit::LimitedPartner rate_limited_partner(const OAuthClient& client) {
    return {client.client_id, client.rate_limits, client.organization_id.has_value()};
}

} // namespace provisiond::oauth
