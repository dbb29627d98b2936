#pragma once
// What the operator's `users disable`, `users enable` and `users reset-link` do to a person's
// access, in the caller's transaction (with the webhook events that report it).

#include "accounts/account.hpp"
#include "config/config.hpp"
#include "storage/unit_of_work.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace provisiond::cli {

/// What `users disable` took from a person.
struct UserDisabling {
    std::int64_t families = 0;         ///< token families revoked, with their tokens
    std::vector<std::string> partners; ///< the clients those families belonged to
    std::int64_t codes = 0;            ///< authorization codes not exchanged yet
};

/// Disables an enabled user: sets disabled_at, ends every browser session, revokes every token
/// family (grant.revoked, reason user_disabled, per partner) and expires unused codes. The pages
/// refuse a disabled person's login and set-password links until `users enable`.
Result<UserDisabling> disable_user(Repositories& r, const accounts::User& user, std::int64_t now);

/// Queues a password-reset email to the user. The link's single-use token is minted when
/// `serve`'s outbox worker delivers it, so nothing here (or on the terminal) can use it.
Result<void> queue_password_reset(Repositories& r, const accounts::User& user, const Config& config,
                                  std::int64_t now);

} // namespace provisiond::cli
