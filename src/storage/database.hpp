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

class Database {
public:
    Database(ConnectionFactory factory, std::size_t pool_size);

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
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    void release(std::unique_ptr<Connection> c);

    ConnectionFactory factory_;
    std::size_t pool_size_;
    std::size_t opened_ = 0;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::mutex mutex_;
    std::condition_variable available_;
    TelemetryHook telemetry_;
};

} // namespace provisiond::storage
