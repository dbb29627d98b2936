#pragma once

#include "core/error.hpp"

#include <cstdint>

namespace provisiond::ratelimit {

/// Fixed-window counters for partner rate limits, shared by every process on the database.
class RateLimitRepository {
public:
    virtual ~RateLimitRepository() = default;
    /// Adds one to the bucket's counter for the window and returns the new count.
    virtual Result<std::int64_t> increment(std::string_view bucket, std::int64_t window_start) = 0;
    /// Takes one back from the bucket's counter for the window (never below zero); a counter
    /// that reaches zero is dropped.
    virtual Result<void> decrement(std::string_view bucket, std::int64_t window_start) = 0;
    /// The bucket's counter for the window (0 when nothing was counted), without counting.
    virtual Result<std::int64_t> current(std::string_view bucket, std::int64_t window_start) = 0;
    /// Drops counters of windows that ended before `window_start`.
    virtual Result<void> purge_before(std::int64_t window_start) = 0;
};

} // namespace provisiond::ratelimit
