#pragma once

#include "http/message.hpp"
#include "oauth/token_service.hpp"

namespace provisiond::oauth {

/// POST /oauth/token (and its provisioning aliases): RFC 6749 §5 responses over TokenService.
http::Response handle_token(TokenService& service, const http::Request& request);

} // namespace provisiond::oauth
