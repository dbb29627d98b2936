#pragma once
// Access-token authentication for the resource endpoints (RFC 6750 §2.1).

#include "core/clock.hpp"
#include "core/unit_of_work.hpp"
#include "oauth/client.hpp"
#include "oauth/grant.hpp"

namespace provisiond::oauth {

/// Who is calling with a valid access token: the family it belongs to and its client.
struct BearerContext {
    std::string access_token_hash;
    TokenFamily family;
    OAuthClient client;
};

/// Checks `Authorization: Bearer pha_…`: present, known, unexpired, unrevoked, from an active
/// client that may provision resources. Fails with unauthorized (401) or forbidden (403).
Result<BearerContext> authenticate_bearer(UnitOfWork& uow, const Clock& clock,
                                          std::string_view authorization_header);

} // namespace provisiond::oauth
