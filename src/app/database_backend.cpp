#include "app/database_backend.hpp"

#include "storage/group_commit.hpp"
#include "storage/postgres/postgres_connection.hpp"
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
    auto options = backend_of(database) == Backend::postgres
                       ? storage::GroupCommitOptions{}
                       : storage::sqlite_group_commit_options();
    return std::make_unique<storage::Database>(
        factory, connections,
        std::make_unique<storage::GroupCommitWriter>(factory, std::move(options)));
}

std::string display_name(std::string_view database) {
    if (backend_of(database) == Backend::postgres) {
        return storage::redact_postgres_url(database);
    }
    return std::string(database);
}

} // namespace provisiond::app
