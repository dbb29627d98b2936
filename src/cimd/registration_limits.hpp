#pragma once
// Limits on self-registration (docs/CIMD.md "Registration limits"), counted in the database.

#include "core/error.hpp"
#include "ratelimit/rate_limit_repository.hpp"

#include <cstdint>
#include <string_view>

namespace provisiond::cimd {

/// A new metadata-document client: 5/min and 10/h per address, 5/h per host, 100/h in all.
Result<void> charge_new_registration(ratelimit::RateLimitRepository& counters,
                                     std::string_view remote_address, std::string_view host,
                                     std::int64_t now);

/// A client_registration call: 30/h per client id and 120/h per address.
Result<void> charge_registration_check(ratelimit::RateLimitRepository& counters,
                                       std::string_view client_id, std::string_view remote_address,
                                       std::int64_t now);

} // namespace provisiond::cimd
