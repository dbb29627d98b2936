#include "web/login_throttle.hpp"

#include "crypto/crypto.hpp"
#include "http/client_address.hpp"

#include <string>

namespace provisiond::web {
namespace {

std::string pair_bucket(std::string_view account, std::string_view address) {
    // Hashed: the bucket need not spell out a person's address.
    return "login_failed:" +
           crypto::sha256_hex(std::string(account) + "\n" + http::limit_key(address));
}

std::string address_bucket(std::string_view address) {
    return "login_failed_address:" + http::limit_key(address); // an IPv6 /64 is one budget
}

} // namespace

Result<bool> reserve_login_attempt(ratelimit::RateLimitRepository& counters,
                                   const LoginLimits& limits, std::string_view account,
                                   std::string_view address, std::int64_t now) {
    std::int64_t window = now - now % limits.window_seconds;
    ASSIGN_OR_RETURN(auto pair, counters.current(pair_bucket(account, address), window));
    ASSIGN_OR_RETURN(auto from_address, counters.current(address_bucket(address), window));
    if (pair >= limits.per_account_and_address || from_address >= limits.per_address) {
        return false;
    }
    RETURN_IF_ERROR(counters.increment(pair_bucket(account, address), window));
    RETURN_IF_ERROR(counters.increment(address_bucket(address), window));
    return true;
}

Result<void> refund_login_attempt(ratelimit::RateLimitRepository& counters,
                                  const LoginLimits& limits, std::string_view account,
                                  std::string_view address, std::int64_t now) {
    std::int64_t window = now - now % limits.window_seconds;
    RETURN_IF_ERROR(counters.decrement(pair_bucket(account, address), window));
    RETURN_IF_ERROR(counters.decrement(address_bucket(address), window));
    return {};
}

} // namespace provisiond::web
