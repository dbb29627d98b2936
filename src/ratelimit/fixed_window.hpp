#pragma once
// One fixed-window counter in the database: the building block of every limit provisiond keeps
// (partner limits, CIMD registration limits), so that they hold across restarts and processes.

#include "ratelimit/rate_limit_repository.hpp"

#include <cstdint>
#include <string>

namespace provisiond::ratelimit {

struct WindowCount {
    bool over_limit = false;
    std::int64_t retry_after_seconds = 0; ///< until the window ends
};

/// Counts one event in the window of `window_seconds` that contains `now`.
inline Result<WindowCount> count_in_window(RateLimitRepository& counters, const std::string& bucket,
                                           std::int64_t window_seconds, std::int64_t limit,
                                           std::int64_t now) {
    std::int64_t window_start = now - now % window_seconds;
    auto count = counters.increment(bucket, window_start);
    if (!count) {
        return count.error();
    }
    return WindowCount{*count > limit, window_start + window_seconds - now};
}

} // namespace provisiond::ratelimit
