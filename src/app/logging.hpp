#pragma once
// The two logs on stderr: the application log and the access log (one line per request).
// `--log-format json` (the default) makes every line one JSON object with one schema:
//   {"time": ISO-8601 UTC with milliseconds, "level", "message", "log": "app" | "access", …}
// and access lines add request_id, method, route, path, status, duration_ms (a number),
// remote, bytes_in, bytes_out, and client_id, error, error_detail, user_agent when known.
// `--log-format text` prints the same as one readable line for a terminal. No line ever holds
// a secret: access lines carry the path without its query, never headers or bodies.

#include <spdlog/async_logger.h> // declares what details/thread_pool.h needs
#include <spdlog/details/thread_pool.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace provisiond::app {

struct Loggers {
    /// Writes the access log on its own thread: a request thread only queues its line (no
    /// formatting, no write(2)). First, so that it outlives the loggers and drains their lines.
    std::shared_ptr<spdlog::details::thread_pool> access_writer;
    std::shared_ptr<spdlog::logger> app;
    std::shared_ptr<spdlog::logger> access;
};

/// `format` is "json" or "text"; `level` one of spdlog's level names.
Loggers make_loggers(const std::string& level, const std::string& format);

} // namespace provisiond::app
