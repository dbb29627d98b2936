#include "app/database_backend.hpp"

#include "storage/postgres/postgres_connection.hpp"
#include "storage/sqlite/group_commit.hpp"
#include "storage/sqlite/sqlite_connection.hpp"

namespace provisiond::app {

Backend backend_of(std::string_view database) {
    return storage::is_postgres_url(database) ? Backend::postgres : Backend::sqlite;
}

storage::ConnectionFactory connection_factory(const std::string& database) {
    if (backend_of(database) == Backend::postgres) {
        return [database] { return storage::open_postgres(database); };
    }
    auto writer = std::make_shared<std::mutex>(); // one per file (storage/sqlite/)
    return [database, writer] { return storage::open_sqlite(database, writer); };
}

std::unique_ptr<storage::Database> open_storage(const std::string& database,
                                                std::size_t connections) {
    auto factory = connection_factory(database);
    if (backend_of(database) == Backend::postgres) {
        return std::make_unique<storage::Database>(std::move(factory), connections);
    }
    // A batch is bounded so that one fsync never waits behind an unbounded queue.
    constexpr std::size_t max_units_per_commit = 64;
    return std::make_unique<storage::Database>(
        factory, connections,
        std::make_unique<storage::GroupCommitWriter>(factory, max_units_per_commit));
}

std::string display_name(std::string_view database) {
    if (backend_of(database) == Backend::postgres) {
        return storage::redact_postgres_url(database);
    }
    return std::string(database);
}

} // namespace provisiond::app
