#include "storage/backend.hpp"

#include "storage/postgres/postgres_connection.hpp"
#include "storage/sqlite/sqlite_connection.hpp"

namespace provisiond::storage {

Backend backend_of(std::string_view database) {
    return is_postgres_url(database) ? Backend::postgres : Backend::sqlite;
}

ConnectionFactory connection_factory(const std::string& database) {
    if (backend_of(database) == Backend::postgres) {
        return [database] { return open_postgres(database); };
    }
    return [database] { return open_sqlite(database); };
}

std::string display_name(std::string_view database) {
    if (backend_of(database) == Backend::postgres) {
        return redact_postgres_url(database);
    }
    return std::string(database);
}

} // namespace provisiond::storage
