#pragma once
// Which backend a `--database` value selects: a `postgresql://` (or `postgres://`) URL selects
// PostgreSQL, anything else is the path of a SQLite file (the embedded default).

#include "storage/database.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace provisiond::app {

enum class Backend { sqlite, postgres };

Backend backend_of(std::string_view database);

/// Opens connections to `database` with the driver its value selects.
storage::ConnectionFactory connection_factory(const std::string& database);

/// The pool of `connections` to `database` for reads; write transactions go to one writer
/// thread that commits them in groups (storage/group_commit.hpp), on both backends.
std::unique_ptr<storage::Database> open_storage(const std::string& database,
                                                std::size_t connections);

/// `database` as it may be shown in messages and logs (a URL's password replaced by ***).
std::string display_name(std::string_view database);

} // namespace provisiond::app
