#include "backend_fixture.hpp"

#include "crypto/crypto.hpp"
#include "storage/migrations.hpp"
#include "storage/postgres/postgres_connection.hpp"

#include <algorithm>
#include <cstdlib>

namespace provisiond::conformance {
namespace {

/// `base` (postgresql://user@host:port, perhaps with a path or ?options) naming `database`.
std::string with_database(std::string base, const std::string& database) {
    std::string options;
    if (auto q = base.find('?'); q != std::string::npos) {
        options = base.substr(q);
        base.erase(q);
    }
    auto authority = base.find("://");
    auto slash = base.find('/', authority == std::string::npos ? 0 : authority + 3);
    if (slash != std::string::npos) {
        base.erase(slash);
    }
    return base + "/" + database + options;
}

/// Runs one statement outside a transaction on a new connection to `url`.
Result<void> administer(const std::string& url, const std::string& sql) {
    auto connection = storage::open_postgres(url);
    if (!connection) {
        return connection.error();
    }
    return (*connection)->execute_script(sql);
}

} // namespace

std::string describe(const Error& error) {
    std::string out = std::string(wire_name(error.code)) + ": " + error.message;
    if (!error.debug.empty()) {
        out += " [" + error.debug + "]";
    }
    return out;
}

void BackendTest::SetUp() {
    if (backend() == Backend::sqlite) {
        sqlite_path_ = std::filesystem::temp_directory_path() /
                       ("provisiond-conformance-" + crypto::random_uuid() + ".db");
        database_ = sqlite_path_.string();
    } else {
        const char* base = std::getenv(pg_url_variable);
        if (base == nullptr || *base == '\0') {
            FAIL() << pg_url_variable
                   << " is not set, so the PostgreSQL half of the conformance suite cannot run. "
                      "Run the suite with a throwaway cluster:\n"
                      "    tests/pg/with-cluster.sh <build>/storage_conformance\n"
                      "(or `ctest -R storage_conformance`), or point "
                   << pg_url_variable
                   << " at a server where you may CREATE DATABASE "
                      "(postgresql://postgres@127.0.0.1:PORT). Only the SQLite half: "
                      "--gtest_filter='*/SQLite'.";
        }
        std::string name = crypto::random_uuid();
        name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
        pg_database_name_ = "conf_" + name;
        pg_admin_url_ = with_database(base, "postgres");
        auto created = administer(pg_admin_url_, "CREATE DATABASE " + pg_database_name_);
        if (!created) {
            std::string failure = describe(created.error());
            pg_database_name_.clear();
            FAIL() << "cannot create the test database on " << app::display_name(base) << ": "
                   << failure;
        }
        database_ = with_database(base, pg_database_name_);
    }
    db_ = app::open_storage(database_, 4);
    std::vector<std::string> warnings;
    auto migrated = storage::migrate(*db_, &warnings);
    ASSERT_TRUE(succeeded(migrated)) << "migrating " << app::display_name(database_);
    EXPECT_TRUE(warnings.empty()) << (warnings.empty() ? "" : warnings.front());
    uow_ = std::make_unique<storage::SqlUnitOfWork>(*db_);
    // The instantiation really runs on the backend it is named for.
    auto lease = db_->acquire();
    ASSERT_TRUE(succeeded(lease));
    EXPECT_EQ((*lease)->dialect(), backend() == Backend::sqlite ? "sqlite" : "postgres");
}

void BackendTest::TearDown() {
    uow_.reset();
    db_.reset(); // closes every connection, so that the database can be dropped
    if (!sqlite_path_.empty()) {
        std::error_code ignored;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::filesystem::remove(sqlite_path_.string() + suffix, ignored);
        }
    }
    if (!pg_database_name_.empty()) {
        auto dropped = administer(pg_admin_url_, "DROP DATABASE IF EXISTS " + pg_database_name_);
        EXPECT_TRUE(succeeded(dropped)) << "dropping " << pg_database_name_;
    }
}

std::int64_t BackendTest::scalar(const std::string& sql) {
    auto lease = db_->acquire();
    if (!lease) {
        ADD_FAILURE() << describe(lease.error());
        return -1;
    }
    auto rows = storage::query(**lease, sql);
    if (!rows) {
        ADD_FAILURE() << sql << ": " << describe(rows.error());
        return -1;
    }
    if (rows->empty()) {
        ADD_FAILURE() << sql << ": no row";
        return -1;
    }
    return rows->front().integer(0);
}

void BackendTest::seed_user(const std::string& id, const std::string& email,
                            std::int64_t created_at) {
    accounts::User u;
    u.id = id;
    u.email = email;
    u.email_normalized = email;
    u.first_name = "First";
    u.name = "Name";
    u.created_at = created_at;
    EXPECT_OK(write([&](Repositories& r) { return r.accounts().insert_user(u); }));
}

void BackendTest::seed_organization(const std::string& id, const std::string& name,
                                    std::int64_t created_at) {
    EXPECT_OK(write([&](Repositories& r) {
        return r.accounts().insert_organization({id, name, "US", created_at});
    }));
}

void BackendTest::seed_client(const std::string& client_id, std::int64_t created_at) {
    oauth::OAuthClient c;
    c.client_id = client_id;
    c.name = "Client " + client_id;
    c.redirect_uris = {"https://" + client_id + ".example/cb"};
    c.scopes = {"project:read", "user:read"};
    c.created_at = created_at;
    c.updated_at = created_at;
    EXPECT_OK(write([&](Repositories& r) { return r.clients().insert(c); }));
}

World BackendTest::seed_world(const std::string& tag) {
    World w;
    w.user_id = "user" + tag;
    w.email = "user" + tag + "@example.com";
    w.organization_id = "org" + tag;
    w.client_id = "client" + tag;
    seed_user(w.user_id, w.email);
    seed_organization(w.organization_id, "Organization" + tag);
    seed_client(w.client_id);
    auto project = write([&](Repositories& r) -> Result<accounts::Project> {
        RETURN_IF_ERROR(
            r.accounts().insert_membership(w.organization_id, w.user_id, accounts::Role::owner, 1));
        return r.accounts().insert_project(w.organization_id, "Project" + tag, "phc_token" + tag,
                                           1);
    });
    EXPECT_OK(project);
    if (project) {
        w.project_id = project->id;
    }
    return w;
}

} // namespace provisiond::conformance
