#include "cimd/registration_limits.hpp"

#include "crypto/crypto.hpp"
#include "http/client_address.hpp"
#include "ratelimit/fixed_window.hpp"

#include <string>

namespace provisiond::cimd {
namespace {

struct Limit {
    std::string bucket;
    std::int64_t window_seconds;
    std::int64_t limit;
    const char* message;
};

Result<void> charge_all(ratelimit::RateLimitRepository& counters, const std::vector<Limit>& limits,
                        std::int64_t now) {
    for (const auto& l : limits) {
        ASSIGN_OR_RETURN(auto counted, ratelimit::count_in_window(counters, l.bucket,
                                                                  l.window_seconds, l.limit, now));
        if (counted.over_limit) {
            Error e = make_error(ErrorCode::rate_limited, l.message);
            e.retry_after_seconds = counted.retry_after_seconds;
            return e;
        }
    }
    return {};
}

} // namespace

Result<void> charge_new_registration(ratelimit::RateLimitRepository& counters,
                                     std::string_view remote, std::string_view host,
                                     std::int64_t now) {
    constexpr const char* too_many = "Too many new client registrations. Try again later.";
    std::string address = http::limit_key(remote); // an IPv6 /64 is one budget
    return charge_all(counters,
                      {{"cimd_new:ip_minute:" + address, 60, 5, too_many},
                       {"cimd_new:ip_hour:" + address, 3600, 10, too_many},
                       {"cimd_new:domain:" + std::string(host), 3600, 5,
                        "Too many new client registrations from this domain. Try again later."},
                       {"cimd_new:global", 3600, 100, too_many}},
                      now);
}

Result<void> charge_registration_check(ratelimit::RateLimitRepository& counters,
                                       std::string_view client_id, std::string_view remote,
                                       std::int64_t now) {
    return charge_all(counters,
                      {{"cimd_check:client:" + crypto::sha256_hex(client_id), 3600, 30,
                        "Too many registration checks for this client. Try again later."},
                       {"cimd_check:ip:" + http::limit_key(remote), 3600, 120,
                        "Too many registration checks from this address. Try again later."}},
                      now);
}

} // namespace provisiond::cimd
