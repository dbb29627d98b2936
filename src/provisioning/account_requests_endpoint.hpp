#pragma once

#include "http/message.hpp"
#include "provisioning/account_requests.hpp"

namespace provisiond::provisioning {

/// POST /api/agentic/provisioning/account_requests: wire ↔ AccountRequestService.
http::Response handle_account_requests(AccountRequestService& service,
                                       const http::Request& request);

} // namespace provisiond::provisioning
