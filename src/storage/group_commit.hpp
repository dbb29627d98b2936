#pragma once
// Group commit: one writer thread owns the write connection and runs the write transactions
// queued meanwhile as one database transaction, each inside its own SAVEPOINT (rolled back to it
// when that unit fails), then commits once and completes them all. Every commit is an fsync
// (SQLite with synchronous=FULL, PostgreSQL with synchronous_commit on) and, on PostgreSQL, one
// hold of the writers' advisory lock; under load one of each now covers many requests. Readers
// keep their own pooled connections. What differs per backend comes in GroupCommitOptions: SQLite
// never checkpoints inside a commit; its WAL is copied back beside the writer and, to start it
// over, between two batches.

#include "storage/database.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace provisiond::storage {

struct GroupCommitOptions {
    /// At most this many units share one commit, so that no fsync waits behind an endless queue.
    std::size_t max_batch = 64;
    /// Runs on every write connection the writer opens, before its first batch.
    std::function<void(Connection&)> prepare_writer;
    /// If set, runs on the writer thread after each batch, once its callers have their answers
    /// and before the next batch begins (SQLite: the last of a checkpoint, to start the WAL over).
    std::function<void(Connection&)> after_batch;
    /// If set, runs every maintenance_interval on a connection and thread of its own (SQLite:
    /// a PASSIVE checkpoint once the WAL has grown), so that no batch waits behind it.
    std::function<void(Connection&)> maintenance;
    std::chrono::milliseconds maintenance_interval{1000};
};

class GroupCommitWriter final : public WriteExecutor {
public:
    /// `open` opens the write connection (lazily, and again after a failure).
    GroupCommitWriter(ConnectionFactory open, GroupCommitOptions options);
    /// Runs what is queued, then stops the thread.
    ~GroupCommitWriter() override;

    Result<void> run(const std::function<Result<void>(Connection&)>& work) override;
    void report_to(Telemetry& telemetry) override { telemetry_.report_to(telemetry); }

private:
    struct Unit;
    void loop();
    /// Runs `batch` in one transaction; units it could not run stay in `batch` for the next.
    void run_batch(std::deque<Unit*>& batch);
    Result<Connection*> connection();
    /// options_.maintenance, every options_.maintenance_interval.
    void maintenance_loop();

    ConnectionFactory open_;
    GroupCommitOptions options_;
    std::unique_ptr<Connection> connection_; ///< only the writer thread touches it
    std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<Unit*> queue_;         ///< under mutex_
    bool stopping_ = false;           ///< under mutex_
    std::condition_variable stopped_; ///< wakes the maintenance thread at once on stop
    TelemetryHook telemetry_;
    std::thread thread_;     ///< started by the constructor once everything above exists
    std::thread maintainer_; ///< the same, only when options_.maintenance is set
};

} // namespace provisiond::storage
