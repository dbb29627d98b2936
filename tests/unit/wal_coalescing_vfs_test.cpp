// storage/sqlite/wal_coalescing_vfs: a commit's WAL frames reach the file as one write (a few
// for a large commit), and nothing else changes: another connection on SQLite's default VFS
// (as another process, or the sqlite3 shell) sees every commit the moment it returns, with or
// without a sync, and a transaction larger than the page cache (frames spilled, then rewritten
// in place) leaves a database that passes integrity_check.
#include "storage/sqlite/wal_coalescing_vfs.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <unistd.h>

namespace provisiond::storage {
namespace {

namespace fs = std::filesystem;

/// Counts the write system calls SQLite's unix VFS makes, through its own override hook, and
/// fails them as a full disk does while `disk_full` is set.
struct WriteCounter {
    static inline int calls = 0;
    static inline bool disk_full = false;
    static inline sqlite3_syscall_ptr original_pwrite = nullptr;
    static inline sqlite3_syscall_ptr original_pwrite64 = nullptr;
    static inline sqlite3_syscall_ptr original_write = nullptr;

    static bool refuse() {
        ++calls;
        if (disk_full) {
            errno = ENOSPC;
        }
        return disk_full;
    }
    static ssize_t pwrite(int fd, const void* bytes, size_t n, off_t offset) {
        if (refuse()) {
            return -1;
        }
        return reinterpret_cast<ssize_t (*)(int, const void*, size_t, off_t)>(original_pwrite)(
            fd, bytes, n, offset);
    }
    static ssize_t pwrite64(int fd, const void* bytes, size_t n, off64_t offset) {
        if (refuse()) {
            return -1;
        }
        return reinterpret_cast<ssize_t (*)(int, const void*, size_t, off64_t)>(original_pwrite64)(
            fd, bytes, n, offset);
    }
    static ssize_t write(int fd, const void* bytes, size_t n) {
        if (refuse()) {
            return -1;
        }
        return reinterpret_cast<ssize_t (*)(int, const void*, size_t)>(original_write)(fd, bytes,
                                                                                       n);
    }

    explicit WriteCounter(sqlite3_vfs* vfs) : vfs_(vfs) {
        original_pwrite = hook("pwrite", reinterpret_cast<sqlite3_syscall_ptr>(&pwrite));
        original_pwrite64 = hook("pwrite64", reinterpret_cast<sqlite3_syscall_ptr>(&pwrite64));
        original_write = hook("write", reinterpret_cast<sqlite3_syscall_ptr>(&write));
    }
    ~WriteCounter() {
        disk_full = false;
        // Restores every system call to the default (a null pointer means "the original").
        vfs_->xSetSystemCall(vfs_, nullptr, nullptr);
    }
    sqlite3_syscall_ptr hook(const char* name, sqlite3_syscall_ptr replacement) {
        sqlite3_syscall_ptr found = vfs_->xGetSystemCall(vfs_, name);
        if (found != nullptr) {
            vfs_->xSetSystemCall(vfs_, name, replacement);
        }
        return found;
    }
    sqlite3_vfs* vfs_;
};

class WalCoalescingVfsTest : public ::testing::Test {
protected:
    // Closed before the directory is removed.
    void TearDown() override { close_both(); }
    void close_both() {
        for (sqlite3** db : {&reader, &writer}) {
            sqlite3_close_v2(*db);
            *db = nullptr;
        }
    }

    sqlite3* open(const char* vfs) {
        sqlite3* db = nullptr;
        EXPECT_EQ(
            sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
            SQLITE_OK);
        return db;
    }
    static void exec(sqlite3* db, const std::string& sql) {
        char* message = nullptr;
        int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
        std::string text = message ? message : "";
        sqlite3_free(message);
        ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << text;
    }
    static std::string single(sqlite3* db, const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
        std::string value;
        if (sqlite3_step(statement) == SQLITE_ROW) {
            const auto* text = sqlite3_column_text(statement, 0);
            value = text ? reinterpret_cast<const char*>(text) : "";
        }
        sqlite3_finalize(statement);
        return value;
    }
    /// The writer through the VFS, in WAL mode, with no checkpoint that would write the
    /// database file during a commit; the reader on SQLite's default VFS.
    void open_both(const char* synchronous) {
        ASSERT_NE(wal_coalescing_vfs(), nullptr);
        writer = open(wal_coalescing_vfs());
        exec(writer, "PRAGMA journal_mode=WAL");
        exec(writer, std::string("PRAGMA synchronous=") + synchronous);
        exec(writer, "PRAGMA wal_autocheckpoint=0");
        exec(writer, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL)");
        exec(writer, "CREATE INDEX t_v ON t(v)");
        exec(writer, "CREATE INDEX t_n ON t(n)");
        reader = open(nullptr);
    }
    /// `rows` rows with random keys, so that each lands on a page of its own in every index.
    static std::string insert(int rows) {
        return "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < " +
               std::to_string(rows) +
               ") INSERT INTO t SELECT hex(randomblob(32)), hex(randomblob(32)), random() FROM s";
    }

    test_files::TempDirectory temp{"wal-vfs"};
    const fs::path& dir = temp.path();
    std::string path = (dir / "t.db").string();
    sqlite3* writer = nullptr;
    sqlite3* reader = nullptr;
};

TEST_F(WalCoalescingVfsTest, ACommitReachesTheWalAsOneWrite) {
    open_both("FULL");
    exec(writer, insert(2000)); // a database of a few hundred pages
    WriteCounter counter(sqlite3_vfs_find(wal_coalescing_vfs()));
    // A token-sized commit: a few frames, two writes each without the VFS.
    auto before = fs::file_size(path + "-wal");
    WriteCounter::calls = 0;
    exec(writer, insert(1));
    auto frames = (fs::file_size(path + "-wal") - before) / (4096 + 24);
    EXPECT_GE(frames, 3u);
    EXPECT_EQ(WriteCounter::calls, 1);
    // A large one (~100 pages, ~400 KiB) goes in pieces the unix VFS can take whole.
    exec(writer, "BEGIN");
    exec(writer, insert(40));
    before = fs::file_size(path + "-wal");
    WriteCounter::calls = 0;
    exec(writer, "COMMIT");
    auto bytes = fs::file_size(path + "-wal") - before;
    EXPECT_GT(bytes, 50u * (4096 + 24));
    EXPECT_EQ(WriteCounter::calls, (bytes + wal_largest_write - 1) / wal_largest_write);
    EXPECT_EQ(single(reader, "SELECT count(*) FROM t"), "2041");
}

TEST_F(WalCoalescingVfsTest, AnotherConnectionSeesEveryCommitAtOnceEvenWithoutSync) {
    // synchronous=OFF: no fsync tells the VFS that the commit is over, only the commit frame.
    for (const char* synchronous : {"FULL", "OFF"}) {
        SCOPED_TRACE(synchronous);
        close_both();
        path = (dir / (std::string(synchronous) + ".db")).string();
        open_both(synchronous);
        for (int round = 1; round <= 20; ++round) {
            exec(writer, insert(7));
            ASSERT_EQ(single(reader, "SELECT count(*) FROM t"), std::to_string(round * 7));
        }
        EXPECT_EQ(single(reader, "PRAGMA integrity_check"), "ok");
    }
}

TEST_F(WalCoalescingVfsTest, ATransactionLargerThanTheCacheStaysWhole) {
    open_both("FULL");
    // A cache of 10 pages spills frames mid-transaction and rewrites some of them in place
    // (writes that do not follow the previous one).
    exec(writer, "PRAGMA cache_size=10");
    exec(writer, "BEGIN");
    exec(writer, insert(3000));
    exec(writer, "UPDATE t SET n = n / 2 WHERE rowid % 3 = 0");
    exec(writer, insert(500));
    exec(writer, "COMMIT");
    EXPECT_EQ(single(reader, "SELECT count(*) FROM t"), "3500");
    EXPECT_EQ(single(reader, "PRAGMA integrity_check"), "ok");
    // A rolled-back transaction leaves nothing behind either.
    exec(writer, "BEGIN");
    exec(writer, insert(3000));
    exec(writer, "ROLLBACK");
    EXPECT_EQ(single(reader, "SELECT count(*) FROM t"), "3500");
    exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)");
    EXPECT_EQ(single(reader, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(single(reader, "SELECT count(*) FROM t"), "3500");
}

TEST_F(WalCoalescingVfsTest, ACommitWhoseWriteFailsLeavesNoTraceAndTheNextOneCommits) {
    open_both("FULL");
    exec(writer, insert(100));
    WriteCounter counter(sqlite3_vfs_find(wal_coalescing_vfs()));
    WriteCounter::disk_full = true;
    EXPECT_EQ(sqlite3_exec(writer, insert(5).c_str(), nullptr, nullptr, nullptr), SQLITE_FULL);
    if (sqlite3_get_autocommit(writer) == 0) {
        exec(writer, "ROLLBACK");
    }
    EXPECT_EQ(single(reader, "SELECT count(*) FROM t"), "100");
    WriteCounter::disk_full = false;
    exec(writer, insert(5));
    EXPECT_EQ(single(reader, "SELECT count(*) FROM t"), "105");
    EXPECT_EQ(single(reader, "PRAGMA integrity_check"), "ok");
}

} // namespace
} // namespace provisiond::storage
