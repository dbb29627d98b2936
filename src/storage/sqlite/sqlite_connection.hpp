#pragma once
// The SQLite driver: WAL journal, a busy timeout instead of SQLITE_BUSY errors, prepared-statement
// cache, and $n placeholders rewritten to SQLite's ?n.

#include "storage/connection.hpp"

#include <memory>
#include <string>

namespace provisiond::storage {

/// Opens (creating if needed) the SQLite database at `path`. ":memory:" is allowed in tests.
Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path);

} // namespace provisiond::storage
