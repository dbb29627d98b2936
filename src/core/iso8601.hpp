#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace provisiond {

/// Parses an ISO 8601 date or date-time (`2026-01-31`, `2026-01-31T10:00:00Z`,
/// `2026-01-31 10:00:00.5+02:00`) into Unix seconds. A time without offset is UTC.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
std::string format_iso8601(std::int64_t unix_seconds);

} // namespace provisiond
