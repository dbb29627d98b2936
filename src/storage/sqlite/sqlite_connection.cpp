#include "storage/sqlite/sqlite_connection.hpp"

#include "storage/sqlite/wal_coalescing_vfs.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <unordered_map>

namespace provisiond::storage {
namespace {

constexpr int busy_timeout_ms = 10'000;
// Checkpoints (copying the WAL back into the database file) and the WAL's size. A WAL starts over
// from its beginning only once every frame is copied; until then every commit appends to it.
/// The checkpointing thread copies once this many frames are left to copy (SQLite's own
/// auto-checkpoint threshold).
constexpr int wal_background_frames = 1000;
/// Once the WAL holds this many frames (16 MiB of 4 KiB pages), the writer restarts it: it copies
/// what is left itself, between two batches, once the checkpointing thread has left at most...
constexpr int wal_restart_frames = 4000;
/// ...this many frames to copy, so that the batches wait behind little copying;
constexpr int wal_catch_up_frames = 250;
/// and whatever is left once the WAL holds this many, so that it stays bounded (32 MiB).
constexpr int wal_limit_frames = 8000;

/// `$12` → `?12`, outside of string literals.
std::string rewrite_placeholders(std::string_view sql) {
    std::string out;
    out.reserve(sql.size());
    bool in_string = false;
    for (char c : sql) {
        if (c == '\'') {
            in_string = !in_string;
        }
        out.push_back(!in_string && c == '$' ? '?' : c);
    }
    return out;
}

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
    std::string detail = std::string(what) + ": " + sqlite3_errmsg(db);
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return make_error(ErrorCode::conflict, "conflict", detail);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        return make_error(ErrorCode::unavailable, storage_unavailable_message, detail);
    default:
        return make_error(ErrorCode::internal, "storage error", detail);
    }
}

struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const {
        return std::hash<std::string_view>{}(sql);
    }
};

class SqliteConnection final : public Connection {
public:
    SqliteConnection(sqlite3* db, std::shared_ptr<std::mutex> writer)
        : db_(db), writer_(std::move(writer)), writing_(*writer_, std::defer_lock) {}
    ~SqliteConnection() override {
        for (auto& [sql, stmt] : statements_) {
            sqlite3_finalize(stmt);
        }
        sqlite3_close_v2(db_);
    }

    Result<std::vector<Row>> query(std::string_view sql, std::span<const Value> params) override {
        ASSIGN_OR_RETURN(auto stmt, prepare(sql, params));
        if (reading_ && !sqlite3_stmt_readonly(stmt)) {
            // A read transaction refuses writes, as PostgreSQL's READ ONLY does (25006).
            return make_error(ErrorCode::internal, "storage error",
                              "a write in a read transaction: " + std::string(sql));
        }
        std::vector<Row> rows;
        for (;;) {
            int rc = sqlite3_step(stmt);
            if (rc == SQLITE_DONE) {
                break;
            }
            if (rc != SQLITE_ROW) {
                auto err = sqlite_error(db_, rc, "step");
                sqlite3_reset(stmt);
                return err;
            }
            int n = sqlite3_column_count(stmt);
            std::vector<Value> columns;
            columns.reserve(static_cast<std::size_t>(n));
            for (int i = 0; i < n; ++i) {
                switch (sqlite3_column_type(stmt, i)) {
                case SQLITE_NULL:
                    columns.emplace_back(Null{});
                    break;
                case SQLITE_INTEGER:
                    columns.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, i)));
                    break;
                default: {
                    const auto* text = sqlite3_column_text(stmt, i);
                    int bytes = sqlite3_column_bytes(stmt, i);
                    columns.emplace_back(std::string(reinterpret_cast<const char*>(text),
                                                     static_cast<std::size_t>(bytes)));
                }
                }
            }
            rows.emplace_back(std::move(columns));
        }
        sqlite3_reset(stmt);
        return rows;
    }

    Result<std::int64_t> execute(std::string_view sql, std::span<const Value> params) override {
        ASSIGN_OR_RETURN(auto rows, query(sql, params));
        return static_cast<std::int64_t>(sqlite3_changes64(db_));
    }

    Result<void> execute_script(std::string_view sql) override {
        std::string text(sql);
        char* message = nullptr;
        int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
        if (rc != SQLITE_OK) {
            std::string detail = message ? message : "unknown";
            sqlite3_free(message);
            return make_error(ErrorCode::internal, "storage error", "script: " + detail);
        }
        return {};
    }

    Result<void> begin(TransactionMode mode) override {
        if (mode == TransactionMode::read) {
            // A write in a read transaction must fail here as it does on PostgreSQL (READ ONLY),
            // not pass on SQLite only: query() refuses statements that write. (Not PRAGMA
            // query_only: changing a flag pragma expires every prepared statement of the
            // connection, so each read transaction compiled its statements again.)
            auto began = run_plain("BEGIN");
            reading_ = began.has_value(); // commit() and rollback() end it
            return began;
        }
        writing_.lock();
        auto began = run_plain("BEGIN IMMEDIATE");
        if (!began) {
            writing_.unlock();
        }
        return began;
    }
    Result<void> commit() override {
        auto done = run_plain("COMMIT");
        if (done) {
            release_writer();
            end_reading();
        }
        return done; // a failed COMMIT is followed by rollback(), which releases it
    }
    void rollback() override {
        (void)run_plain("ROLLBACK");
        release_writer();
        end_reading();
    }
    std::string_view dialect() const override { return "sqlite"; }
    bool in_transaction() const override { return sqlite3_get_autocommit(db_) == 0; }

    /// From now on, counts the frames the WAL holds after each commit (SQLite's WAL hook, the
    /// one wal_autocheckpoint would use), without checkpointing inside the commit.
    void watch_wal() { sqlite3_wal_hook(db_, &SqliteConnection::on_wal_commit, this); }

    /// Frames in the WAL after this connection's last commit (watch_wal).
    int wal_frames() const { return wal_frames_; }

    struct Checkpointed {
        int wal_frames = 0; ///< in the WAL when the checkpoint ran
        int copied = 0;     ///< of those, now in the database file
    };
    /// Copies the WAL back into the database (PASSIVE: never waits for a reader or a writer;
    /// nothing when another connection is checkpointing). Once every frame is copied, the next
    /// write transaction starts the WAL over from its beginning, so the file stops growing.
    std::optional<Checkpointed> checkpoint() {
        Checkpointed done;
        int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &done.wal_frames, &done.copied);
        if (rc != SQLITE_OK) {
            return std::nullopt;
        }
        if (done.copied == done.wal_frames) {
            wal_frames_ = 0; // all copied: the next commit restarts the WAL
        }
        return done;
    }

private:
    static int on_wal_commit(void* self, sqlite3*, const char*, int frames) {
        static_cast<SqliteConnection*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
    }

    void end_reading() { reading_ = false; }

    void release_writer() {
        if (writing_.owns_lock()) {
            writing_.unlock();
        }
    }

    /// One statement without parameters or rows, prepared once like every other (BEGIN and
    /// COMMIT run twice per request: parsing them each time showed in the profile).
    Result<void> run_plain(std::string_view sql) {
        if (auto ran = query(sql, {}); !ran) {
            return ran.error();
        }
        return {};
    }

    Result<sqlite3_stmt*> prepare(std::string_view sql, std::span<const Value> params) {
        auto found = statements_.find(sql);
        sqlite3_stmt* stmt = nullptr;
        if (found != statements_.end()) {
            stmt = found->second;
        } else {
            std::string rewritten = rewrite_placeholders(sql);
            int rc = sqlite3_prepare_v3(db_, rewritten.c_str(), -1, SQLITE_PREPARE_PERSISTENT,
                                        &stmt, nullptr);
            if (rc != SQLITE_OK) {
                return sqlite_error(db_, rc, "prepare");
            }
            statements_.emplace(std::string(sql), stmt);
        }
        sqlite3_clear_bindings(stmt);
        for (std::size_t i = 0; i < params.size(); ++i) {
            int index = static_cast<int>(i) + 1;
            int rc = std::visit(
                [&](const auto& v) -> int {
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, Null>) {
                        return sqlite3_bind_null(stmt, index);
                    } else if constexpr (std::is_same_v<T, std::int64_t>) {
                        return sqlite3_bind_int64(stmt, index, v);
                    } else {
                        return sqlite3_bind_text(stmt, index, v.data(), static_cast<int>(v.size()),
                                                 SQLITE_TRANSIENT);
                    }
                },
                params[i]);
            if (rc != SQLITE_OK) {
                return sqlite_error(db_, rc, "bind");
            }
        }
        return stmt;
    }

    sqlite3* db_;
    std::shared_ptr<std::mutex> writer_;
    std::unique_lock<std::mutex> writing_; ///< held from BEGIN IMMEDIATE to COMMIT or ROLLBACK
    bool reading_ = false;                 ///< in a read transaction: statements that write fail
    int wal_frames_ = 0;                   ///< frames in the WAL after the last commit (watch_wal)
    /// By SQL text, looked up without copying it (transparent hash).
    std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
};

/// What the writer and the checkpointing thread tell each other about the WAL (SQLite keeps its
/// counters per connection). Each WAL, from one start to the next, has a generation number, so
/// that the writer never takes the progress made on one WAL for progress on the next.
class CheckpointProgress {
public:
    struct Wal {
        std::uint64_t generation = 0;
        int frames = 0;
        int copied = 0; ///< of those, by the checkpointing thread
    };

    /// The writer, after each batch and after its own checkpoints: the frames its WAL holds now.
    /// Returns how many of them the checkpointing thread has copied.
    int writer_saw(int frames) {
        std::lock_guard lock(mutex_);
        if (frames < wal_.frames) {
            ++wal_.generation; // the WAL started over
        }
        wal_.frames = frames;
        wal_.copied = copied_generation_ == wal_.generation ? copied_ : 0;
        return wal_.copied;
    }
    /// The checkpointing thread, before it checkpoints: the WAL as the writer last saw it.
    Wal wal() const {
        std::lock_guard lock(mutex_);
        return wal_;
    }
    /// The checkpointing thread, after: `copied` frames of the WAL `generation` are copied.
    void background_copied(std::uint64_t generation, int copied) {
        std::lock_guard lock(mutex_);
        copied_generation_ = generation;
        copied_ = copied;
        if (generation == wal_.generation) {
            wal_.copied = copied;
        }
    }

private:
    mutable std::mutex mutex_;
    Wal wal_;
    std::uint64_t copied_generation_ = ~std::uint64_t{0};
    int copied_ = 0;
};

} // namespace

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path,
                                                std::shared_ptr<std::mutex> writer) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    // The WAL-coalescing VFS writes a commit's frames with one call (wal_coalescing_vfs.hpp).
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, wal_coalescing_vfs());
    if (rc != SQLITE_OK) {
        std::string detail = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close_v2(db);
        return make_error(ErrorCode::unavailable, "cannot open the database",
                          "open " + path + ": " + detail);
    }
    sqlite3_busy_timeout(db, busy_timeout_ms);
    sqlite3_extended_result_codes(db, 1);
    auto connection = std::make_unique<SqliteConnection>(db, std::move(writer));
    // WAL lets readers run beside the single writer. FULL sync fsyncs the WAL at every commit,
    // so an acknowledged token survives power loss, not only a crash of the process; the group
    // commit (storage/group_commit.hpp) shares one fsync among the requests that commit together.
    // No mmap_size: tried under the refresh workload, it made read transactions slower (the
    // map follows the growing file, and each remap is a TLB shootdown on every core).
    // Connections opened at the same moment (the server's, its checkpointing thread's, another
    // process's) can find the file locked while one of them switches a new database to WAL or
    // recovers its WAL; SQLite answers SQLITE_BUSY there without calling the busy handler. So
    // a busy pragma is tried again, for as long as the busy timeout.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                               "PRAGMA foreign_keys=ON", "PRAGMA trusted_schema=OFF"}) {
        int ran = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
        while ((ran & 0xff) == SQLITE_BUSY && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            ran = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
        }
        if (ran != SQLITE_OK) {
            return make_error(ErrorCode::unavailable, "cannot open the database",
                              std::string(pragma) + ": " + sqlite3_errmsg(db));
        }
    }
    return std::unique_ptr<Connection>(std::move(connection));
}

GroupCommitOptions sqlite_group_commit_options() {
    GroupCommitOptions options;
    auto progress = std::make_shared<CheckpointProgress>();
    // A checkpoint never runs inside a commit, where a batch's callers would wait for it: its
    // random page writes and the database file's fsync took 15-40 ms a time on a large file.
    options.prepare_writer = [](Connection& c) {
        if (auto* sqlite = dynamic_cast<SqliteConnection*>(&c)) {
            sqlite->watch_wal();
        }
    };
    // The copying runs on a thread of its own, beside the writer (maintenance, below). But a
    // checkpoint beside a busy writer never catches up with its last frame, and only a WAL
    // copied to its last frame starts over: left to that thread alone, the WAL grew by every
    // commit's pages (945 MB in six seconds of refreshes at 8 clients). So once the WAL is
    // 16 MiB the writer finishes the job between two batches, when no commit can run beside
    // it, as soon as little is left to copy. Copying the whole WAL on the writer every 1 000
    // frames (as at first) cost the code exchange on a large database 30-40 % of its rate.
    // Measured in docs/PERFORMANCE.md.
    options.after_batch = [progress](Connection& c) {
        auto* sqlite = dynamic_cast<SqliteConnection*>(&c);
        if (sqlite == nullptr) {
            return;
        }
        int frames = sqlite->wal_frames();
        int copied = progress->writer_saw(frames);
        if (frames < wal_restart_frames) {
            return;
        }
        if (frames - copied > wal_catch_up_frames && frames < wal_limit_frames) {
            return; // the checkpointing thread is at it
        }
        if (sqlite->checkpoint()) {
            progress->writer_saw(sqlite->wal_frames());
        }
    };
    // The thread of its own looks every 10 ms how far the writer's WAL is ahead of the copy
    // (a mutex and two integers), copies once 1 000 frames are waiting or the writer is about
    // to restart the WAL, and at least once a second all the same: for another process's
    // commits, and for a WAL left behind when load stops.
    options.maintenance = [progress,
                           last = std::chrono::steady_clock::time_point{}](Connection& c) mutable {
        auto now = std::chrono::steady_clock::now();
        auto wal = progress->wal();
        int behind = wal.frames - wal.copied;
        bool restarting = wal.frames >= wal_restart_frames && behind > wal_catch_up_frames;
        if (behind < wal_background_frames && !restarting && now - last < std::chrono::seconds(1)) {
            return;
        }
        last = now;
        if (auto* sqlite = dynamic_cast<SqliteConnection*>(&c)) {
            if (auto done = sqlite->checkpoint()) {
                progress->background_copied(wal.generation, done->copied);
            }
        }
    };
    options.maintenance_interval = std::chrono::milliseconds(10);
    return options;
}

} // namespace provisiond::storage
