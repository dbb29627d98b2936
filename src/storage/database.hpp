#pragma once
// A pool of connections to one database, and the transaction helper built on it.

#include "core/telemetry.hpp"
#include "storage/connection.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace provisiond::storage {

/// Opens connections of one backend; the pool calls it lazily, up to its size.
using ConnectionFactory = std::function<Result<std::unique_ptr<Connection>>()>;

/// Runs write transactions on a connection of its own instead of a pooled one: the group
/// commit (storage/group_commit.hpp). `work` runs in a transaction that commits before
/// run() returns success; a failed `work` leaves no trace.
class WriteExecutor {
public:
    virtual ~WriteExecutor() = default;
    virtual Result<void> run(const std::function<Result<void>(Connection&)>& work) = 0;
    virtual void report_to(Telemetry&) {}
};

/// Runs `work` on `c`, turning an exception (a broken invariant: a column of an unexpected
/// type, memory) into an error, so that nothing of the transaction is kept and the caller gets
/// an error rather than an exception.
Result<void> run_guarded(const std::function<Result<void>(Connection&)>& work, Connection& c);

class Database {
public:
    Database(ConnectionFactory factory, std::size_t pool_size);
    /// Write transactions go to `writer`; the pool then serves reads (and ping, migrations).
    Database(ConnectionFactory factory, std::size_t pool_size,
             std::unique_ptr<WriteExecutor> writer);

    /// A connection on loan; returned to the pool when the lease ends.
    class Lease {
    public:
        Lease(Database* owner, std::unique_ptr<Connection> c)
            : owner_(owner), connection_(std::move(c)) {}
        Lease(Lease&&) = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        Connection& operator*() { return *connection_; }
        Connection* operator->() { return connection_.get(); }

    private:
        Database* owner_;
        std::unique_ptr<Connection> connection_;
    };

    /// Waits for a free connection (opening one if the pool is not full yet).
    Result<Lease> acquire();

    /// Runs `work` in one transaction: commits when it returns success, rolls back otherwise.
    Result<void> transact(TransactionMode mode,
                          const std::function<Result<void>(Connection&)>& work);
    /// Transaction times and pool waits are reported there.
    void report_to(Telemetry& telemetry);

private:
    void release(std::unique_ptr<Connection> c);

    ConnectionFactory factory_;
    std::size_t pool_size_;
    std::size_t opened_ = 0;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::mutex mutex_;
    std::condition_variable available_;
    TelemetryHook telemetry_;
    std::unique_ptr<WriteExecutor> writer_; ///< declared last: stopped before the pool goes
};

} // namespace provisiond::storage
