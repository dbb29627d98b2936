#pragma once
// `provisiond audit [--since] [--client-id] [--user] [--json]`: the audit events, newest first.

#include "config/config.hpp"

#include <CLI/CLI.hpp>

#include <optional>

namespace provisiond::cli {

struct AuditOptions {
    std::string since = "7d"; ///< an ISO-8601 time, or a span back from now: 30m, 24h, 7d
    std::string client_id;
    std::string user; ///< an id or an email address
    std::int64_t limit = 1000;
    bool json = false;
};

void add_audit_command(CLI::App& app, Config& config, AuditOptions& options, int& exit_code);

/// The start of a --since: "30m", "24h", "7d" back from `now`, or an ISO-8601 time.
std::optional<std::int64_t> parse_since(const std::string& text, std::int64_t now);

} // namespace provisiond::cli
