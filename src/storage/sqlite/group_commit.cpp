#include "storage/sqlite/group_commit.hpp"

#include <chrono>
#include <future>
#include <pthread.h>

namespace provisiond::storage {

/// One queued write transaction and the caller waiting for its outcome.
struct GroupCommitWriter::Unit {
    const std::function<Result<void>(Connection&)>& work;
    std::promise<Result<void>> outcome;
};

namespace {

/// Often enough that the WAL stays small (a checkpoint with nothing to copy costs microseconds).
constexpr auto checkpoint_interval = std::chrono::milliseconds(1000);

} // namespace

GroupCommitWriter::GroupCommitWriter(ConnectionFactory open, std::size_t max_batch)
    : open_(std::move(open)), max_batch_(max_batch == 0 ? 1 : max_batch),
      thread_([this] { loop(); }), checkpointer_([this] { checkpoint_loop(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    queued_.notify_one();
    stopped_.notify_all();
    thread_.join();
    checkpointer_.join();
}

void GroupCommitWriter::checkpoint_loop() {
    pthread_setname_np(pthread_self(), "pvd-checkpoint");
    std::unique_ptr<Connection> own;
    std::unique_lock lock(mutex_);
    while (!stopped_.wait_for(lock, checkpoint_interval, [&] { return stopping_; })) {
        lock.unlock();
        if (!own || own->broken()) {
            auto opened = open_();
            own = opened ? std::move(*opened) : nullptr;
        }
        if (own) {
            // Busy (another process checkpointing) or failed: the next round tries again.
            (void)query(*own, "PRAGMA wal_checkpoint(PASSIVE)");
        }
        lock.lock();
    }
}

Result<void> GroupCommitWriter::run(const std::function<Result<void>(Connection&)>& work) {
    Unit unit{work, {}};
    auto outcome = unit.outcome.get_future();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return make_error(ErrorCode::unavailable, "storage unavailable",
                              "the database writer has stopped");
        }
        queue_.push_back(&unit);
    }
    queued_.notify_one();
    return outcome.get();
}

void GroupCommitWriter::loop() {
    pthread_setname_np(pthread_self(), "pvd-writer"); // for top -H, perf and gdb
    for (;;) {
        std::deque<Unit*> batch;
        {
            std::unique_lock lock(mutex_);
            queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return; // stopping, and every caller has its answer
            }
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(queue_.front());
                queue_.pop_front();
            }
        }
        while (!batch.empty()) {
            run_batch(batch);
        }
    }
}

Result<Connection*> GroupCommitWriter::connection() {
    if (connection_ && connection_->broken()) {
        connection_.reset();
    }
    if (!connection_) {
        auto opened = open_();
        if (!opened) {
            return opened.error();
        }
        connection_ = std::move(*opened);
        // Checkpoints are the checkpointer thread's: none in the middle of a commit.
        (void)query(*connection_, "PRAGMA wal_autocheckpoint = 0");
    }
    return connection_.get();
}

void GroupCommitWriter::run_batch(std::deque<Unit*>& batch) {
    auto fail_all = [&](const Error& error) {
        for (Unit* unit : batch) {
            unit->outcome.set_value(error);
        }
        batch.clear();
    };
    auto c = connection();
    if (!c) {
        fail_all(c.error());
        return;
    }
    Connection& db = **c;
    if (auto began = db.begin(TransactionMode::write); !began) {
        db.rollback(); // BEGIN IMMEDIATE timed out on another process's lock: 503 for all
        fail_all(began.error());
        return;
    }
    auto step = [&](std::string_view sql) -> Result<void> {
        if (auto ran = execute(db, sql); !ran) {
            return ran.error();
        }
        return {};
    };
    std::vector<Unit*> done; // succeeded, waiting for the commit
    while (!batch.empty()) {
        Unit* unit = batch.front();
        batch.pop_front();
        Result<void> outcome = step("SAVEPOINT unit");
        if (outcome) {
            outcome = run_guarded(unit->work, db);
        }
        if (outcome) {
            outcome = step("RELEASE unit");
        }
        if (!db.in_transaction()) {
            // SQLite rolled the whole transaction back (I/O error, disk full): every unit
            // that ran in it is lost, not only this one. The rest of the batch runs next time.
            Error lost = make_error(ErrorCode::unavailable, "storage unavailable",
                                    "the database rolled back a write transaction");
            unit->outcome.set_value(outcome ? lost : outcome.error());
            for (Unit* earlier : done) {
                earlier->outcome.set_value(lost);
            }
            db.rollback();
            return;
        }
        if (outcome) {
            done.push_back(unit);
        } else {
            // This unit leaves no trace; the others keep theirs.
            (void)step("ROLLBACK TO unit");
            (void)step("RELEASE unit");
            unit->outcome.set_value(outcome);
        }
    }
    telemetry_->observe("provisiond_storage_group_commit_units", static_cast<double>(done.size()));
    auto committed = db.commit();
    if (!committed) {
        db.rollback();
    }
    for (Unit* unit : done) {
        unit->outcome.set_value(committed);
    }
}

} // namespace provisiond::storage
