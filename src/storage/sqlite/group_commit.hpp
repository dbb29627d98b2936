#pragma once
// Group commit for SQLite: one writer thread owns the write connection and runs the write
// transactions queued meanwhile as one SQLite transaction, each inside its own SAVEPOINT (rolled
// back to it when that unit fails), then commits once and completes them all. With
// synchronous=FULL every commit is an fsync; under load one fsync now covers many requests, so
// durability against power loss costs little. Readers keep their own pooled connections (WAL).
// Checkpoints (copying the WAL back into the database file, two more fsyncs) run on a thread of
// their own, so that no batch waits behind one.

#include "storage/database.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace provisiond::storage {

class GroupCommitWriter final : public WriteExecutor {
public:
    /// `open` opens the write connection (lazily, and again after a failure); at most
    /// `max_batch` units share one commit.
    GroupCommitWriter(ConnectionFactory open, std::size_t max_batch);
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
    /// Every checkpoint_interval: a PASSIVE checkpoint (it never blocks the writer or readers).
    void checkpoint_loop();

    ConnectionFactory open_;
    std::size_t max_batch_;
    std::unique_ptr<Connection> connection_; ///< only the writer thread touches it
    std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<Unit*> queue_;         ///< under mutex_
    bool stopping_ = false;           ///< under mutex_
    std::condition_variable stopped_; ///< wakes the checkpointer at once on stop
    TelemetryHook telemetry_;
    std::thread thread_; ///< these two last: they start once everything above exists
    std::thread checkpointer_;
};

} // namespace provisiond::storage
