#pragma once
// Delivers the outbox: polls due messages, hands each to a Sender, and retries failures with
// exponential backoff (10 s doubling, at most 1 h). The outbox row is the state, so nothing is
// lost across restarts, and an email failure never fails the API request that queued it.

#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "core/unit_of_work.hpp"
#include "outbox/sender.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace provisiond::outbox {

/// Polls the outbox and delivers due messages, with exponential backoff on failure.
/// Safe with several processes: a message may in rare races be delivered twice, never lost.
class OutboxWorker {
public:
    OutboxWorker(UnitOfWork& uow, const Clock& clock, Sender& sender,
                 std::shared_ptr<spdlog::logger> log, std::int64_t link_lifetime_seconds);
    ~OutboxWorker();
    void start();
    void stop();
    /// One pass over due messages; returns how many were delivered.
    int deliver_due();
    /// The backlog and every attempt are reported there.
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    /// The message as sent: a fresh set-password token in place of the placeholder (its hash
    /// stored, earlier unused links dropped).
    Result<Email> render(const Email& queued);

    TelemetryHook telemetry_;
    UnitOfWork& uow_;
    const Clock& clock_;
    Sender& sender_;
    std::shared_ptr<spdlog::logger> log_;
    std::int64_t link_lifetime_seconds_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

} // namespace provisiond::outbox
