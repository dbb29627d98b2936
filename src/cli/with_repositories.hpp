#pragma once
// What every operator command that touches the database does first.

#include "config/config.hpp"
#include "storage/unit_of_work.hpp"

#include <functional>

namespace provisiond::cli {

/// Refuses (exit 1, naming the path and the setting) a database file that does not exist.
/// Opens the configured database, applies migrations, and runs `work` in one write transaction;
/// returns `work`'s exit code, or 1 (with a message on stderr) when the database fails.
int with_repositories(const Config& config, const std::function<int(Repositories&)>& work);

/// Says on stderr that the database failed a command (with the detail an operator can act on);
/// returns the exit code 1.
int report_failure(const Error& error);

} // namespace provisiond::cli
