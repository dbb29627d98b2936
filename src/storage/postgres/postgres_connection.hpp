#pragma once
// The PostgreSQL driver on libpq: statements prepared once per connection ($n placeholders are
// PostgreSQL's own), parameters sent as text and typed by the server, SQLSTATEs mapped to the
// domain's error codes, and write transactions serialized across every process by one
// transaction-scoped advisory lock (docs/STORAGE.md says why).

#include "storage/connection.hpp"

#include <memory>
#include <string>

namespace provisiond::storage {

/// True when `database` names a PostgreSQL server (`postgresql://…` or `postgres://…`).
bool is_postgres_url(std::string_view database);

/// Connects to the PostgreSQL server at `url` (a libpq connection URI).
Result<std::unique_ptr<Connection>> open_postgres(const std::string& url);

/// `url` with any password replaced by `***`, for messages and logs.
std::string redact_postgres_url(std::string_view url);

} // namespace provisiond::storage
