#pragma once
// POST /oauth/revoke (RFC 7009) and POST /oauth/introspect (RFC 7662).

#include "config/config.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "storage/unit_of_work.hpp"

namespace provisiond::oauth {

/// Revokes an access token (that token) or a refresh token (its whole family). Always 200 for a
/// well-formed request, whether or not the token was known (RFC 7009 §2.2).
http::Response handle_revoke(storage::UnitOfWork& uow, const Clock& clock,
                             const http::Request& request);

/// Tells a resource server whether a token is live. Protected: `Authorization: Bearer
/// <--introspection-token>`; 401 otherwise (and always when the setting is empty).
http::Response handle_introspect(storage::UnitOfWork& uow, const Clock& clock, const Config& config,
                                 const http::Request& request);

} // namespace provisiond::oauth
