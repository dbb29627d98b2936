#include "storage/group_commit.hpp"

#include <algorithm>
#include <future>
#include <pthread.h>

namespace provisiond::storage {

/// One queued write transaction and the caller waiting for its outcome.
struct GroupCommitWriter::Unit {
    const std::function<Result<void>(Connection&)>& work;
    std::promise<Result<void>> outcome;
};

GroupCommitWriter::GroupCommitWriter(ConnectionFactory open, GroupCommitOptions options)
    : open_(std::move(open)), options_(std::move(options)) {
    options_.max_batch = std::max<std::size_t>(options_.max_batch, 1);
    thread_ = std::thread([this] { loop(); });
    if (options_.maintenance) {
        maintainer_ = std::thread([this] { maintenance_loop(); });
    }
}

GroupCommitWriter::~GroupCommitWriter() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    queued_.notify_one();
    stopped_.notify_all();
    thread_.join();
    if (maintainer_.joinable()) {
        maintainer_.join();
    }
}

void GroupCommitWriter::maintenance_loop() {
    pthread_setname_np(pthread_self(), "pvd-maintain");
    std::unique_ptr<Connection> own;
    std::unique_lock lock(mutex_);
    while (!stopped_.wait_for(lock, options_.maintenance_interval, [&] { return stopping_; })) {
        lock.unlock();
        if (!own || own->broken()) {
            auto opened = open_();
            own = opened ? std::move(*opened) : nullptr;
        }
        if (own) {
            options_.maintenance(*own); // failed: the next round tries again
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
            return make_error(ErrorCode::unavailable, storage_unavailable_message,
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
            while (!queue_.empty() && batch.size() < options_.max_batch) {
                batch.push_back(queue_.front());
                queue_.pop_front();
            }
        }
        while (!batch.empty()) {
            run_batch(batch);
        }
        if (options_.after_batch && connection_ && !connection_->broken()) {
            options_.after_batch(*connection_);
        }
    }
}

Result<Connection*> GroupCommitWriter::connection() {
    if (connection_ && connection_->broken()) {
        connection_.reset();
    }
    if (!connection_) {
        ASSIGN_OR_RETURN(auto opened, open_());
        connection_ = std::move(opened);
        if (options_.prepare_writer) {
            options_.prepare_writer(*connection_);
        }
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
    // One savepoint is open whenever a unit runs. After a unit that succeeded, releasing it and
    // opening the next is one round trip (PostgreSQL runs the two statements of a script in one);
    // after one that failed, ROLLBACK TO empties it and leaves it open for the next unit. The
    // last one is committed with the transaction.
    std::vector<Unit*> done; // succeeded, waiting for the commit
    // Ends the batch when the transaction cannot go on: every unit that ran in it is lost, not
    // only `unit` (answered with `error`); the rest of the batch runs next time.
    auto lost = [] {
        return make_error(ErrorCode::unavailable, storage_unavailable_message,
                          "the database rolled back a write transaction");
    };
    auto lose_transaction = [&](Unit* unit, const Error& error) {
        unit->outcome.set_value(error);
        for (Unit* earlier : done) {
            earlier->outcome.set_value(lost());
        }
        db.rollback();
    };
    if (auto opened = step("SAVEPOINT unit"); !opened) {
        db.rollback();
        fail_all(opened.error());
        return;
    }
    while (!batch.empty()) {
        Unit* unit = batch.front();
        batch.pop_front();
        Result<void> outcome = run_guarded(unit->work, db);
        // The unit's held-back statements (Connection::execute_deferred) are part of its
        // outcome; the next savepoint goes in the same round trip when there is a next unit.
        Result<void> moved_on;
        if (outcome) {
            auto settled = db.settle(batch.empty() ? "" : "RELEASE unit; SAVEPOINT unit");
            outcome = settled.held;
            moved_on = settled.next;
        } else {
            db.discard_deferred();
        }
        if (!db.in_transaction()) {
            // The database ended the whole transaction (SQLite: I/O error, disk full;
            // PostgreSQL: the session died).
            lose_transaction(unit, outcome ? lost() : outcome.error());
            return;
        }
        if (outcome) {
            if (!moved_on) {
                // Not moved on: whether this unit's changes are in the transaction is unknown.
                lose_transaction(unit, moved_on.error());
                return;
            }
            done.push_back(unit);
            continue;
        }
        // This unit leaves no trace; the others keep theirs.
        if (auto undone = step("ROLLBACK TO unit"); !undone) {
            lose_transaction(unit, outcome.error());
            return;
        }
        unit->outcome.set_value(outcome);
        if (is_storage_unavailable(outcome.error())) {
            // A lock this unit waited for timed out (PostgreSQL: another session holds a row
            // or table; each statement waits up to lock_timeout). The units behind it would
            // wait one after the other, each as long: they get the 503 now, as they would have
            // when writers queued on the writers' lock, and the ones done are committed.
            for (Unit* rest : batch) {
                rest->outcome.set_value(outcome.error());
            }
            batch.clear();
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
