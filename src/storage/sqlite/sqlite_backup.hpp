#pragma once
// An online backup of a SQLite database (sqlite3_backup_*): a consistent copy taken while the
// server keeps serving. In WAL mode a reader blocks no writer, so the whole copy is one step
// under one read transaction (a copy in pieces restarts at every commit in between).

#include "core/error.hpp"

#include <string>

namespace provisiond::storage {

/// Copies the database at `from` into a new file `to` (which must not exist), then checks the
/// copy (PRAGMA integrity_check). An error says what failed and leaves no partial file.
Result<void> backup_sqlite(const std::string& from, const std::string& to);

} // namespace provisiond::storage
