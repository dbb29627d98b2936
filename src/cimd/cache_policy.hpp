#pragma once
// How long a good metadata document stays fresh (docs/CIMD.md "Caching and refresh").

#include <cstdint>
#include <string_view>

namespace provisiond::cimd {

struct CacheBounds {
    std::int64_t min_seconds = 300;
    std::int64_t max_seconds = 86400;
    std::int64_t default_seconds = 3600;
    /// After a failed refresh, the last good document is used this long before the next try.
    std::int64_t retry_seconds = 60;
};

/// Freshness from a Cache-Control header: max-age clamped to the bounds; no-cache / no-store
/// give the minimum; absent or unparseable gives the default.
std::int64_t freshness_seconds(std::string_view cache_control, const CacheBounds& bounds);

} // namespace provisiond::cimd
