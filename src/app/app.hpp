#pragma once
// The composition root: the only code that sees every part. It builds the object graph by
// constructor injection, registers the routes, and runs the server.

#include "cimd/document_fetcher.hpp"
#include "config/config.hpp"
#include "storage/database.hpp"

#include <spdlog/logger.h>

#include <memory>

namespace provisiond::app {

/// Loggers: application messages, and the JSON access log (one line per request), on stderr.

/// Opens the configured database (a pool of `connections`).
Result<std::unique_ptr<storage::Database>> open_database(const Config& config,
                                                         std::size_t connections);

/// Opens the database and applies pending migrations (their names go to `applied`, what a
/// migration wants the operator to know to `warnings`, when given). The error's message says what
/// failed, for the operator (a migration's whole report).
Result<std::unique_ptr<storage::Database>>
open_migrated_database(const Config& config, std::size_t connections,
                       std::vector<std::string>* applied,
                       std::vector<std::string>* warnings = nullptr);

/// The metadata-document fetch settings of the configuration (host map parsed, User-Agent set).
Result<cimd::FetchSettings> fetch_settings(const Config& config);

/// Runs the server until SIGTERM/SIGINT; returns the process exit code. Takes its own copy of
/// the configuration: the connection cap and a kernel-chosen port are settled at start.
int serve(Config config);

} // namespace provisiond::app
