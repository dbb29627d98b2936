#pragma once
// Sending someone a set-password link by email, asked for from a page: "Forgot password?" and
// "send a new link". The answer never says whether the address has an account; links are
// limited per identity (every spelling of one address shares a budget): 3 an hour from one
// client address, 10 an hour in all, so nobody can use up an owner's links or flood a mailbox.

#include "outbox/welcome_email.hpp"
#include "web/web_context.hpp"

namespace provisiond::web {

/// Queues a link for the account of `typed_email`, if there is one and the limits allow.
/// Returns an error only when storage did not answer.
Result<void> request_password_link(const WebContext& context, const http::Request& request,
                                   const std::string& typed_email,
                                   outbox::PasswordLinkReason reason);

} // namespace provisiond::web
