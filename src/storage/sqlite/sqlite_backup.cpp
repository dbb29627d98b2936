#include "storage/sqlite/sqlite_backup.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

namespace provisiond::storage {
namespace {

using Handle = std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)>;

Result<Handle> open(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    Handle handle(db, sqlite3_close_v2);
    if (rc != SQLITE_OK) {
        return make_error(ErrorCode::unavailable, "cannot open " + path + ": " +
                                                      (db ? sqlite3_errmsg(db) : "out of memory"));
    }
    sqlite3_busy_timeout(db, 5000);
    return handle;
}

Result<void> copy(const std::string& from, const std::string& to) {
    ASSIGN_OR_RETURN(auto source, open(from, SQLITE_OPEN_READONLY));
    ASSIGN_OR_RETURN(auto target, open(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    sqlite3_backup* backup = sqlite3_backup_init(target.get(), "main", source.get(), "main");
    if (!backup) {
        return make_error(ErrorCode::unavailable,
                          std::string("cannot start the backup: ") + sqlite3_errmsg(target.get()));
    }
    int rc = SQLITE_OK;
    do {
        // Every page in one step, under one read transaction: a copy taken in pieces starts
        // over whenever the server commits between two pieces, and under steady writes would
        // never finish. In WAL mode this read blocks no writer. Busy: wait and try again.
        rc = sqlite3_backup_step(backup, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::unavailable,
                          std::string("backup failed: ") + sqlite3_errstr(rc));
    }
    sqlite3_stmt* check = nullptr;
    std::string verdict;
    if (sqlite3_prepare_v2(target.get(), "PRAGMA integrity_check", -1, &check, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(check) == SQLITE_ROW) {
        verdict = reinterpret_cast<const char*>(sqlite3_column_text(check, 0));
    }
    sqlite3_finalize(check);
    if (verdict != "ok") {
        return make_error(ErrorCode::unavailable,
                          "the copy failed its integrity check: " + verdict);
    }
    return {};
}

} // namespace

Result<void> backup_sqlite(const std::string& from, const std::string& to) {
    std::error_code ec;
    if (!std::filesystem::exists(from, ec)) {
        return make_error(ErrorCode::not_found, "no database at " + from);
    }
    if (std::filesystem::exists(to, ec)) {
        return make_error(ErrorCode::conflict,
                          to + " already exists; choose a new file (a backup never overwrites)");
    }
    // Written under a temporary name and renamed when complete: an interrupted backup leaves
    // no file that looks like a backup (and its leftover is replaced by the next attempt).
    std::string partial = to + ".partial";
    std::filesystem::remove(partial, ec);
    auto copied = copy(from, partial);
    if (!copied) {
        std::filesystem::remove(partial, ec);
        return copied.error();
    }
    std::filesystem::rename(partial, to, ec);
    if (ec) {
        std::filesystem::remove(partial, ec);
        return make_error(ErrorCode::unavailable, "cannot rename the copy to " + to);
    }
    return {};
}

} // namespace provisiond::storage
