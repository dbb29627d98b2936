#include "storage/database.hpp"

#include <chrono>
#include <exception>

namespace provisiond::storage {

Result<void> run_guarded(const std::function<Result<void>(Connection&)>& work, Connection& c) {
    try {
        return work(c);
    } catch (const std::exception& e) {
        std::string detail = "exception in a transaction: ";
        detail += e.what();
        return make_error(ErrorCode::internal, "storage error", detail);
    }
}

Database::Database(ConnectionFactory factory, std::size_t pool_size)
    : factory_(std::move(factory)), pool_size_(pool_size == 0 ? 1 : pool_size) {}

Database::Database(ConnectionFactory factory, std::size_t pool_size,
                   std::unique_ptr<WriteExecutor> writer)
    : Database(std::move(factory), pool_size) {
    writer_ = std::move(writer);
}

void Database::report_to(Telemetry& telemetry) {
    telemetry_.report_to(telemetry);
    if (writer_) {
        writer_->report_to(telemetry);
    }
}

Database::Lease::~Lease() {
    if (owner_ != nullptr && connection_) {
        owner_->release(std::move(connection_));
    }
}

Result<Database::Lease> Database::acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || opened_ < pool_size_; });
    if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
    }
    ++opened_;
    lock.unlock();
    auto opened = factory_();
    if (!opened) {
        std::lock_guard relock(mutex_);
        --opened_;
        available_.notify_one();
        return opened.error();
    }
    return Lease(this, std::move(*opened));
}

void Database::release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex_);
    if (c->broken()) {
        c.reset();
        --opened_;
        available_.notify_one();
        return;
    }
    idle_.push_back(std::move(c));
    available_.notify_one();
}

Result<void> Database::transact(TransactionMode mode,
                                const std::function<Result<void>(Connection&)>& work) {
    using clock = std::chrono::steady_clock;
    auto asked = clock::now();
    if (writer_ && mode == TransactionMode::write) {
        auto outcome = writer_->run(work); // queued, batched and committed by the writer
        telemetry_->observe("provisiond_storage_transaction_seconds",
                            std::chrono::duration<double>(clock::now() - asked).count(),
                            {{"mode", "write"}});
        return outcome;
    }
    ASSIGN_OR_RETURN(auto lease, acquire());
    Connection& c = *lease;
    // The wait for a connection and the transaction itself (its wait for the writer included),
    // separately: a slow pool and a slow database call for different remedies.
    auto started = clock::now();
    telemetry_->observe("provisiond_storage_pool_wait_seconds",
                        std::chrono::duration<double>(started - asked).count());
    std::string_view kind = mode == TransactionMode::write ? "write" : "read";
    auto finished = [&] {
        telemetry_->observe("provisiond_storage_transaction_seconds",
                            std::chrono::duration<double>(clock::now() - started).count(),
                            {{"mode", kind}});
    };
    if (auto began = c.begin(mode); !began) {
        c.rollback(); // PostgreSQL: BEGIN may have run before the writer lock timed out
        return began.error();
    }
    Result<void> outcome = run_guarded(work, c);
    if (!outcome) {
        c.rollback();
        finished();
        return outcome;
    }
    if (auto committed = c.commit(); !committed) {
        c.rollback();
        finished();
        return committed.error();
    }
    finished();
    return {};
}

} // namespace provisiond::storage
