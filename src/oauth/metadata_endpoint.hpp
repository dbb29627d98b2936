#pragma once
// GET /.well-known/oauth-authorization-server (RFC 8414), with the CIMD flag (draft §6).

#include "config/config.hpp"
#include "http/message.hpp"

namespace provisiond::oauth {

http::Response handle_metadata(const Config& config);

} // namespace provisiond::oauth
