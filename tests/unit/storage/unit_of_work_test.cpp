// The UnitOfWork every repository runs in, on every backend: commit, rollback, read snapshots and
// read-only transactions (core/unit_of_work.hpp: "read: a consistent snapshot; no writes").
#include "backend_fixture.hpp"

#include <atomic>
#include <thread>

namespace provisiond::conformance {
namespace {

class UnitOfWorkTest : public BackendTest {
protected:
    std::int64_t users() { return scalar("SELECT COUNT(*) FROM users"); }
};

accounts::User user(const std::string& id) {
    accounts::User u;
    u.id = id;
    u.email = u.email_normalized = id + "@example.com";
    u.created_at = 1;
    return u;
}

TEST_P(UnitOfWorkTest, SuccessfulWorkIsCommitted) {
    ASSERT_OK(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.accounts().insert_user(user("u-1")));
        return r.accounts().insert_user(user("u-2"));
    }));
    EXPECT_EQ(users(), 2);
}

TEST_P(UnitOfWorkTest, FailedWorkIsRolledBackEntirely) {
    auto failed = write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.accounts().insert_user(user("u-1")));
        return make_error(ErrorCode::invalid_request, "changed my mind");
    });
    EXPECT_FALSE(failed);
    EXPECT_EQ(users(), 0);
    // A statement that failed (a conflict) fails the transaction with its error, and takes the
    // earlier statements with it.
    ASSERT_OK(write([&](Repositories& r) { return r.accounts().insert_user(user("u-1")); }));
    EXPECT_CONFLICT(write([&](Repositories& r) -> Result<void> {
        RETURN_IF_ERROR(r.accounts().insert_user(user("u-2")));
        return r.accounts().insert_user(user("u-1"));
    }));
    EXPECT_EQ(users(), 1);
}

TEST_P(UnitOfWorkTest, AReadTransactionIsASnapshot) {
    ASSERT_OK(write([&](Repositories& r) { return r.accounts().insert_user(user("u-1")); }));
    read([&](Repositories& r) {
        auto before = r.accounts().list_users("");
        ASSERT_OK(before);
        // Another connection commits a user meanwhile.
        std::thread writer([&] {
            EXPECT_OK(
                write([&](Repositories& w) { return w.accounts().insert_user(user("u-2")); }));
        });
        writer.join();
        auto after = r.accounts().list_users("");
        ASSERT_OK(after);
        EXPECT_EQ(after->size(), before->size()) << "the snapshot does not move";
        auto missing = r.accounts().find_user("u-2");
        ASSERT_OK(missing);
        EXPECT_FALSE(missing->has_value());
    });
    EXPECT_EQ(users(), 2);
}

TEST_P(UnitOfWorkTest, AReadTransactionRefusesWrites) {
    // Found by this suite: a plain BEGIN let SQLite write in a read transaction, which
    // PostgreSQL's READ ONLY refuses (SQLSTATE 25006), so such code would pass every SQLite test
    // and fail on PostgreSQL. storage/sqlite/ now refuses statements that write in read
    // transactions.
    auto wrote = read([&](Repositories& r) { return r.accounts().insert_user(user("u-1")); });
    EXPECT_FALSE(wrote) << "a write in a read transaction succeeded";
    EXPECT_EQ(users(), 0);
}

TEST_P(UnitOfWorkTest, EveryReadTransactionStartsCleanWhateverTheLastOneDid) {
    // PostgreSQL sends a read transaction's BEGIN with its first statement: a read that failed
    // there, or that ran nothing, must leave the connection as a new one for the next read.
    ASSERT_OK(write([&](Repositories& r) { return r.accounts().insert_user(user("u-1")); }));
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(read([&](Repositories& r) { return r.accounts().insert_user(user("u-2")); }));
        EXPECT_OK(read([&](Repositories&) { return Result<void>{}; }));
        EXPECT_OK(read([&](Repositories& r) -> Result<void> {
            ASSIGN_OR_RETURN(auto found, r.accounts().find_user("u-1"));
            EXPECT_TRUE(found.has_value());
            return {};
        }));
    }
    EXPECT_EQ(users(), 1);
}

TEST_P(UnitOfWorkTest, WritersAreSerialized) {
    // Read-then-write in write transactions loses no update: the write lock is taken up front.
    ASSERT_OK(write([&](Repositories& r) { return r.rate_limits().increment("b", 0); }));
    concurrently(4, [&](int) {
        for (int k = 0; k < 10; ++k) {
            EXPECT_OK(write([&](Repositories& r) -> Result<void> {
                auto n = r.rate_limits().current("b", 0);
                if (!n) {
                    return n.error();
                }
                // Read, then write back what was read plus one (down to zero, then up to n + 1):
                // only right when no other writer runs in between.
                for (std::int64_t i = 0; i < *n; ++i) {
                    RETURN_IF_ERROR(r.rate_limits().decrement("b", 0));
                }
                for (std::int64_t i = 0; i < *n + 1; ++i) {
                    RETURN_IF_ERROR(r.rate_limits().increment("b", 0));
                }
                return {};
            }));
        }
    });
    auto n = read([&](Repositories& r) { return r.rate_limits().current("b", 0); });
    ASSERT_OK(n);
    EXPECT_EQ(*n, 41);
}

TEST_P(UnitOfWorkTest, AFailedWriteLeavesTheOthersCommittedWithItIntact) {
    // Writes that arrive together share one commit (storage/group_commit.hpp), each in its own
    // savepoint: one that fails must take only its own statements with it, and the others
    // must be committed and answered as such.
    ASSERT_OK(write([&](Repositories& r) { return r.accounts().insert_user(user("taken")); }));
    std::atomic<int> conflicts = 0;
    concurrently(8, [&](int t) {
        for (int k = 0; k < 10; ++k) {
            std::string id = "u-" + std::to_string(t) + "-" + std::to_string(k);
            auto done = write([&](Repositories& r) -> Result<void> {
                RETURN_IF_ERROR(r.accounts().insert_user(user(id)));
                if (t % 2 == 1) {
                    return r.accounts().insert_user(user("taken")); // a conflict
                }
                return {};
            });
            if (t % 2 == 1) {
                EXPECT_FALSE(done) << id;
                conflicts += done ? 0 : 1;
            } else {
                EXPECT_OK(done);
            }
        }
    });
    EXPECT_EQ(conflicts.load(), 40);
    EXPECT_EQ(users(), 1 + 40) << "the 40 good writes and the first, none of the failed ones";
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM users WHERE id LIKE 'u-1-%'"), 0);
}

TEST_P(UnitOfWorkTest, MoreWritersThanOneBatchTakesAllCommitAndReturn) {
    // 80 callers at once, more than one batch takes (64): what a batch leaves in the queue
    // runs in the next one, and every caller gets its answer.
    concurrently(80, [&](int t) {
        for (int k = 0; k < 5; ++k) {
            EXPECT_OK(write([&](Repositories& r) {
                return r.accounts().insert_user(
                    user("m-" + std::to_string(t) + "-" + std::to_string(k)));
            }));
        }
    });
    EXPECT_EQ(users(), 400);
}

INSTANTIATE_TEST_SUITE_P(Backends, UnitOfWorkTest,
                         ::testing::Values(Backend::sqlite, Backend::postgres), BackendName());

} // namespace
} // namespace provisiond::conformance
