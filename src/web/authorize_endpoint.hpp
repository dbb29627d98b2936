#pragma once
// GET /oauth/authorize: the standard authorization-code flow (RFC 6749 §4.1 + PKCE S256) for
// registered and metadata-document clients. It checks the request, stores it, and sends the
// person to the consent page; the answer comes back to the redirect URI with `iss` (RFC 9207).

#include "cimd/client_registrar.hpp"
#include "web/web_context.hpp"

namespace provisiond::web {

class AuthorizeEndpoint {
public:
    AuthorizeEndpoint(WebContext context, cimd::ClientRegistrar& clients)
        : c_(context), clients_(clients) {}
    http::Response handle(const http::Request& request);

private:
    WebContext c_;
    cimd::ClientRegistrar& clients_;
};

} // namespace provisiond::web
