#pragma once
// The repository conformance suite (in the manner of Ory Hydra's TestManagers): every repository
// interface has one parameterized suite, instantiated once per SQL backend, so that SQLite and
// PostgreSQL must pass the very same tests. Each test gets a fresh, migrated database: SQLite in a
// temporary file, PostgreSQL as a new database (CREATE DATABASE conf_<random>) on the cluster
// named by PROVISIOND_TEST_PG_URL. tests/pg/with-cluster.sh provides that cluster:
//
//     tests/pg/with-cluster.sh build/storage_conformance [--gtest_filter=…]
//
// Without PROVISIOND_TEST_PG_URL the PostgreSQL instantiation fails (it never skips silently).

#include "app/database_backend.hpp"
#include "core/error.hpp"
#include "storage/sql_repositories.hpp"
#include "storage/unit_of_work.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <latch>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace provisiond::app {
/// How GoogleTest shows the parameter ("GetParam() = PostgreSQL").
inline void PrintTo(Backend backend, std::ostream* out) {
    *out << (backend == Backend::sqlite ? "SQLite" : "PostgreSQL");
}
} // namespace provisiond::app

namespace provisiond::conformance {

using app::Backend;

/// The name of the environment variable that gives the PostgreSQL cluster's base URL.
inline constexpr const char* pg_url_variable = "PROVISIOND_TEST_PG_URL";

/// Names the instantiations "SQLite" and "PostgreSQL" (Backends/AccountRepositoryTest.X/SQLite).
struct BackendName {
    std::string operator()(const ::testing::TestParamInfo<Backend>& info) const {
        return info.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
    }
};

/// An error as one line: code, message and the driver's detail (statement, SQLSTATE).
std::string describe(const Error& error);

template <class T>::testing::AssertionResult succeeded(const Result<T>& result) {
    if (result) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << describe(result.error());
}

/// Failed, and with this code.
template <class T>::testing::AssertionResult failed_with(const Result<T>& result, ErrorCode code) {
    if (result) {
        return ::testing::AssertionFailure() << "succeeded; expected " << wire_name(code);
    }
    if (result.error().code != code) {
        return ::testing::AssertionFailure()
               << "failed with " << describe(result.error()) << "; expected " << wire_name(code);
    }
    return ::testing::AssertionSuccess();
}

#define ASSERT_OK(expr) ASSERT_TRUE(::provisiond::conformance::succeeded(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(::provisiond::conformance::succeeded(expr))
#define EXPECT_CONFLICT(expr)                                                                      \
    EXPECT_TRUE(::provisiond::conformance::failed_with(expr, ::provisiond::ErrorCode::conflict))

template <class T> struct is_result : std::false_type {};
template <class T> struct is_result<Result<T>> : std::true_type {};

/// Parents that most rows refer to (foreign keys hold on both backends).
struct World {
    std::string user_id;
    std::string email;
    std::string organization_id;
    std::string client_id;
    std::int64_t project_id = 0;
};

class BackendTest : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override;
    void TearDown() override;

    /// Runs `work(Repositories&)` in one write transaction and returns what it returned. `work`
    /// returns a Result (the transaction then rolls back when it holds an error, as domain code
    /// does) or void (it checks with EXPECT_* itself). A transaction that fails to begin or
    /// commit is a test failure.
    template <class F> auto write(F&& work) { return run(TransactionMode::write, work); }
    /// The same in a read transaction (a snapshot; PostgreSQL refuses writes in it).
    template <class F> auto read(F&& work) { return run(TransactionMode::read, work); }

    /// The first column of the first row of `sql` (portable SQL), outside any transaction: for
    /// effects no repository method reads back (a cleared body, a dropped counter).
    std::int64_t scalar(const std::string& sql);

    /// A user, an organization they own with one project, and an active registered client.
    /// `tag` keeps the ids and email of several worlds apart.
    World seed_world(const std::string& tag = "");
    /// Inserts a user (and nothing else) with this id and email.
    void seed_user(const std::string& id, const std::string& email, std::int64_t created_at = 1);
    /// Inserts an organization (and nothing else).
    void seed_organization(const std::string& id, const std::string& name,
                           std::int64_t created_at = 1);
    /// Inserts an active registered client with this id.
    void seed_client(const std::string& client_id, std::int64_t created_at = 1);

    Backend backend() const { return GetParam(); }

    /// Runs `work(i)` for i in [0, n) on n threads started together (each transaction takes its
    /// own pooled connection): compare-and-set methods must have exactly one winner.
    template <class F> void concurrently(int n, F work) {
        std::latch start(n);
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i) {
            threads.emplace_back([&, i] {
                start.arrive_and_wait();
                work(i);
            });
        }
        for (auto& t : threads) {
            t.join();
        }
    }

private:
    template <class F> auto run(TransactionMode mode, F& work) {
        using R = std::invoke_result_t<F&, Repositories&>;
        static_assert(std::is_void_v<R> || is_result<R>::value,
                      "a transaction's work returns a Result or void");
        if constexpr (std::is_void_v<R>) {
            auto done = uow_->run(mode, [&](Repositories& r) -> Result<void> {
                work(r);
                return {};
            });
            EXPECT_TRUE(succeeded(done)) << "the transaction itself failed";
        } else {
            std::optional<R> out;
            auto done = uow_->run(mode, [&](Repositories& r) -> Result<void> {
                out.emplace(work(r));
                if (!*out) {
                    return out->error();
                }
                return {};
            });
            if (!out) {
                ADD_FAILURE() << "the transaction did not begin: " << describe(done.error());
                return R(done.error());
            }
            if (!done && *out) {
                // The work returned success but its transaction failed: a statement the driver
                // held back (Connection::execute_deferred) failed when it was sent, at the
                // latest with the commit. The caller gets that error, as domain code does.
                return R(done.error());
            }
            return std::move(*out);
        }
    }

    std::string database_;         ///< the SQLite path or the PostgreSQL URL
    std::string pg_admin_url_;     ///< <base>/postgres, to create and drop the test database
    std::string pg_database_name_; ///< conf_<random>
    std::filesystem::path sqlite_path_;
    std::unique_ptr<storage::Database> db_;
    std::unique_ptr<storage::SqlUnitOfWork> uow_;
};

} // namespace provisiond::conformance
