#include "outbox/outbox_worker.hpp"

#include "accounts/account_repository.hpp"
#include "crypto/crypto.hpp"
#include "outbox/email.hpp"
#include "outbox/welcome_email.hpp"

#include <algorithm>
#include <chrono>

namespace provisiond::outbox {
namespace {

/// Messages claimed per pass. A claim keeps other processes off them for claim_seconds, which
/// covers sending the whole batch at the SMTP timeout (30 s each) with room to spare; a process
/// that dies mid-batch leaves the rest due again when the claim lapses.
constexpr int batch_size = 10;
constexpr std::int64_t claim_seconds = batch_size * 30 + 60;
constexpr std::int64_t max_backoff_seconds = 3600;
constexpr auto poll_interval = std::chrono::milliseconds(500);
/// Between full batches: at most 1000 messages/s (10 per 10 ms), so a backlog drains without
/// crowding requests out of the database's writer (whose group commit its writes join).
constexpr auto drain_pause = std::chrono::milliseconds(10);

} // namespace

OutboxWorker::OutboxWorker(UnitOfWork& uow, const Clock& clock, Sender& sender,
                           std::shared_ptr<spdlog::logger> log, std::int64_t link_lifetime_seconds)
    : uow_(uow), clock_(clock), sender_(sender), log_(std::move(log)),
      link_lifetime_seconds_(link_lifetime_seconds) {}

Result<Email> OutboxWorker::render(const Email& queued) {
    auto at = queued.body_text.find(outbox::set_password_token_placeholder);
    if (at == std::string::npos || !queued.user_id) {
        return queued;
    }
    std::string token = crypto::random_urlsafe_token();
    std::int64_t now = clock_.now();
    RETURN_IF_ERROR(uow_.run(TransactionMode::write, [&](Repositories& r) {
        return r.accounts().replace_password_set_token(crypto::sha256_hex(token), *queued.user_id,
                                                       now, now + link_lifetime_seconds_);
    }));
    Email rendered = queued;
    for (auto* body : {&rendered.body_text, &rendered.body_html}) {
        for (auto found = body->find(outbox::set_password_token_placeholder);
             found != std::string::npos;
             found = body->find(outbox::set_password_token_placeholder, found)) {
            body->replace(found, outbox::set_password_token_placeholder.size(), token);
        }
    }
    return rendered;
}

OutboxWorker::~OutboxWorker() {
    stop();
}

void OutboxWorker::start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            int delivered = deliver_due();
            lock.lock();
            // A full batch: more is likely due, so come back soon, but not at once: requests share
            // the database's writer with this worker, and a backlog must not crowd them out.
            wake_.wait_for(lock, delivered == batch_size ? drain_pause : poll_interval,
                           [this] { return stopping_; });
        }
    });
}

void OutboxWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

int OutboxWorker::deliver_due() {
    std::vector<Email> due;
    auto read = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        std::int64_t now = clock_.now();
        ASSIGN_OR_RETURN(auto found, r.outbox().claim_due(now, batch_size, now + claim_seconds));
        due = std::move(found);
        ASSIGN_OR_RETURN(auto backlog, r.outbox().backlog());
        telemetry_->set("provisiond_outbox_depth", static_cast<double>(backlog.waiting));
        telemetry_->set("provisiond_outbox_oldest_undelivered_age_seconds",
                        backlog.oldest_created_at
                            ? static_cast<double>(clock_.now() - *backlog.oldest_created_at)
                            : 0.0);
        return {};
    });
    if (!read) {
        log_->warn("outbox: cannot read due messages: {}", read.error().debug);
        return 0;
    }
    int delivered = 0;
    for (const auto& email : due) {
        auto rendered = render(email);
        auto sent = rendered ? sender_.deliver(*rendered) : Result<void>(rendered.error());
        std::int64_t now = clock_.now();
        auto recorded = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
            if (sent) {
                return r.outbox().mark_delivered(email.id, now);
            }
            std::int64_t backoff = std::min<std::int64_t>(
                max_backoff_seconds, 10LL << std::min<std::int64_t>(email.attempts, 10));
            return r.outbox().mark_failed(email.id, sent.error().message, now + backoff);
        });
        telemetry_->count("provisiond_outbox_delivery_attempts_total",
                          {{"outcome", sent ? "delivered" : "failed"}});
        if (sent) {
            ++delivered;
            log_->info("outbox: delivered {} message {}", email.kind, email.id);
        } else {
            log_->warn("outbox: delivery of {} failed (attempt {}): {}", email.id,
                       email.attempts + 1, sent.error().message);
        }
        if (!recorded) {
            log_->warn("outbox: cannot record delivery of {}: {}", email.id,
                       recorded.error().debug);
        }
    }
    return delivered;
}

} // namespace provisiond::outbox
