#pragma once
// POST /oauth/revoke (RFC 7009) and POST /oauth/introspect (RFC 7662).

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/unit_of_work.hpp"
#include "http/message.hpp"

#include <boost/json/object.hpp>

namespace provisiond::oauth {

/// Revokes an access token (that token) or a refresh token (its whole family). Always 200 for a
/// well-formed request, whether or not the token was known (RFC 7009 §2.2).
http::Response handle_revoke(UnitOfWork& uow, const Clock& clock, const http::Request& request);

/// Credentials another domain issues (provisioning/: personal API keys, project tokens), described
/// for RFC 7662 by that domain, so that oauth/ does not depend on it.
class CredentialDescriber {
public:
    virtual ~CredentialDescriber() = default;
    /// True when `token` is of a kind this describer owns (by its prefix).
    virtual bool describes(std::string_view token) const = 0;
    /// The introspection answer (`active` and the claims), read in the caller's transaction.
    virtual Result<boost::json::object> describe(Repositories& r, const std::string& token) = 0;
};

/// Tells a resource server whether a token is live. Protected: `Authorization: Bearer
/// <--introspection-token>`; 401 otherwise (and always when the setting is empty).
http::Response handle_introspect(UnitOfWork& uow, const Clock& clock, const Config& config,
                                 CredentialDescriber& others, const http::Request& request);

} // namespace provisiond::oauth
