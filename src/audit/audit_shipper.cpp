#include "audit/audit_shipper.hpp"

#include "audit/audit_repository.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>

namespace provisiond::audit {

AuditShipper::AuditShipper(UnitOfWork& uow, const Clock& clock, std::shared_ptr<spdlog::logger> log)
    : uow_(uow), clock_(clock), log_(std::move(log)) {}

AuditShipper::~AuditShipper() {
    stop();
}

int AuditShipper::ship_once() {
    // Taken and marked in one write transaction, then logged: with several processes on one
    // database each event is logged by the one process that took it. The table is the record;
    // a process dying between the commit and the write loses only the log line.
    std::vector<AuditEvent> events;
    auto taken = uow_.run(TransactionMode::write, [&](Repositories& r) {
        auto found = r.audit().unlogged(200);
        if (!found) {
            return Result<void>(found.error());
        }
        events = std::move(*found);
        if (events.empty()) {
            return Result<void>();
        }
        std::vector<std::string> ids;
        for (const auto& e : events) {
            ids.push_back(e.id);
        }
        return r.audit().mark_logged(ids, clock_.now());
    });
    if (!taken) {
        log_->warn("audit: cannot take events to log: {}", taken.error().debug);
        return 0;
    }
    for (const auto& e : events) {
        log_->info("audit {}", boost::json::serialize(to_json(e)));
    }
    return static_cast<int>(events.size());
}

void AuditShipper::start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            ship_once();
            lock.lock();
            wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
        }
    });
}

void AuditShipper::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
    ship_once(); // what the last requests committed
}

} // namespace provisiond::audit
