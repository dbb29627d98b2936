#pragma once
// The only place an Error becomes bytes. Which of PostHog's envelopes a route uses is part of
// the wire contract (posthog-behavior.md §1.3).

#include "core/error.hpp"
#include "http/message.hpp"

#include <optional>

namespace provisiond::http {

enum class Envelope {
    typed,  ///< {"id"?, "type":"error", "error":{code, message}}: account_requests
    status, ///< {"status":"error", "id":"…", "error":{code, message}}: resources
    oauth,  ///< {"error", "error_description"}: the token endpoint (RFC 6749 §5.2)
    flat,   ///< {"error":{code, message}}: API-Version, routing, transport-level failures
};

/// Seconds a 503 asks the caller to wait before retrying (its Retry-After) when the failure
/// does not say.
inline constexpr std::int64_t unavailable_retry_after_seconds = 5;

/// The HTTP status an error answers with.
unsigned status_of(ErrorCode code);

/// Builds the error response. `id` is the request id (typed) or resource id (status).
/// Server-side failures show a generic message; the detail stays in `debug` for the log.
Response error_response(Envelope envelope, const Error& error,
                        const std::optional<std::string>& id = std::nullopt);

} // namespace provisiond::http
