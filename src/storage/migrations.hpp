#pragma once
// Numbered, forward-only schema migrations, embedded into the binary at build time
// (tools/embed_migrations.cmake) from storage/migrations/common/NNNN_name.sql, each replaced by
// storage/migrations/<dialect>/NNNN_name.sql where a dialect has one.

#include "storage/database.hpp"

#include <string>
#include <vector>

namespace provisiond::storage {

struct Migration {
    const char* dialect;
    int version;
    const char* name;
    const char* sql;
};

const std::vector<Migration>& embedded_migrations();

/// Applies, in order and each in its own transaction, every migration newer than the database.
/// Returns the names applied. Safe to run from several processes at once (the write lock
/// serializes them and each re-reads the applied versions inside its transaction).
/// A migration may have a C++ step (e.g. 0006_email_identity recomputes email identity keys);
/// what it wants the operator to know goes to `warnings` ("<name>: <text>"), and when it fails
/// the error's `debug` is its report and that migration is rolled back.
Result<std::vector<std::string>> migrate(Database& db,
                                         std::vector<std::string>* warnings = nullptr);

/// The newest version applied, 0 for an empty database.
Result<int> schema_version(Database& db);

/// The newest version this binary knows for the dialect.
int latest_version(std::string_view dialect);

} // namespace provisiond::storage
