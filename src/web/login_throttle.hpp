#pragma once
// How wrong passwords are throttled without handing an attacker a way to lock others out.
// Failures (never successes) are counted per account *and* address, and per address with a
// higher ceiling. A person typing their correct password from an address that has not been
// failing always gets in, however hard someone else hammers their account; a guesser is held
// to a few tries per account from each address, and to the per-address ceiling across accounts.
//
// An attempt is counted *before* the password is checked, in the same write transaction as the
// limit check (so concurrent guesses cannot all slip under the limit), and refunded when the
// password was right. The counters are database rows: they hold across processes and restarts.

#include "ratelimit/rate_limit_repository.hpp"

#include <cstdint>
#include <string_view>

namespace provisiond::web {

struct LoginLimits {
    std::int64_t window_seconds = 900;         ///< 15 minutes
    std::int64_t per_account_and_address = 10; ///< failures of one account from one address
    std::int64_t per_address = 100;            ///< failures from one address, any accounts
};

/// Run inside a write transaction: false when this account, from this address, may not try
/// again in the current window (nothing counted); otherwise counts the attempt and says true.
/// `account` is the email's identity key (or what was typed, when it names no one).
Result<bool> reserve_login_attempt(ratelimit::RateLimitRepository& counters,
                                   const LoginLimits& limits, std::string_view account,
                                   std::string_view address, std::int64_t now);

/// Takes back an attempt reserved at `now` whose password was right: successes never count.
Result<void> refund_login_attempt(ratelimit::RateLimitRepository& counters,
                                  const LoginLimits& limits, std::string_view account,
                                  std::string_view address, std::int64_t now);

} // namespace provisiond::web
