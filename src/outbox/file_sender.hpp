#pragma once
// Delivers outbox messages as one RFC 5322 `.eml` file each: the embedded default, so that an
// operator (or a test) can read what would have been mailed. SMTP delivery comes later.

#include "core/clock.hpp"
#include "outbox/email.hpp"
#include "storage/unit_of_work.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace provisiond::outbox {

/// Something that can hand a message on; the worker retries what it fails.
class Sender {
public:
    virtual ~Sender() = default;
    virtual Result<void> deliver(const Email& email) = 0;
};

class FileSender final : public Sender {
public:
    FileSender(std::string directory, std::string from) : directory_(std::move(directory)), from_(std::move(from)) {}
    /// Writes `<dir>/<created>-<id>.eml` atomically (temporary file, then rename).
    Result<void> deliver(const Email& email) override;

private:
    std::string directory_;
    std::string from_;
};

/// Polls the outbox and delivers due messages, with exponential backoff on failure.
/// Safe with several processes: a message may in rare races be delivered twice, never lost.
class OutboxWorker {
public:
    OutboxWorker(storage::UnitOfWork& uow, const Clock& clock, Sender& sender,
                 std::shared_ptr<spdlog::logger> log, std::int64_t link_lifetime_seconds);
    ~OutboxWorker();
    void start();
    void stop();
    /// One pass over due messages; returns how many were delivered.
    int deliver_due();

private:
    /// The message as sent: a fresh set-password token in place of the placeholder (its hash
    /// stored, earlier unused links dropped).
    Result<Email> render(const Email& queued);

    storage::UnitOfWork& uow_;
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
