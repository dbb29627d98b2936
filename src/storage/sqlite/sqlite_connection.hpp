#pragma once
// The SQLite driver: WAL journal, a busy timeout instead of SQLITE_BUSY errors, prepared-statement
// cache, and $n placeholders rewritten to SQLite's ?n.

#include "storage/connection.hpp"
#include "storage/group_commit.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace provisiond::storage {

/// Opens (creating if needed) the SQLite database at `path`. ":memory:" is allowed in tests.
/// `writer` is shared by every connection to the file in this process: SQLite admits one writer
/// at a time, and a write transaction takes this mutex before `BEGIN IMMEDIATE`, which wakes
/// the next writer at once instead of leaving it to SQLite's busy handler (it sleeps in
/// millisecond steps). Other processes still queue on the file's lock.
Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path,
                                                std::shared_ptr<std::mutex> writer);

/// How SQLite's group-commit writer differs: no checkpoint inside a commit; a thread of its own
/// copies the WAL back beside the writer, and the writer, between two batches, copies the rest
/// once the WAL holds 16 MiB so that it starts over.
GroupCommitOptions sqlite_group_commit_options();

} // namespace provisiond::storage
