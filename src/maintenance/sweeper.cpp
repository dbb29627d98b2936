#include "maintenance/sweeper.hpp"

#include "maintenance/purge_repository.hpp"

#include <chrono>

namespace provisiond::maintenance {
namespace {

/// Batches per table and pass: a large backlog is worked off over several passes.
constexpr int max_batches_per_pass = 20;

} // namespace

std::string_view table_of(Purgeable kind) {
    switch (kind) {
    case Purgeable::authorization_codes:
        return "authorization_codes";
    case Purgeable::access_tokens:
        return "access_tokens";
    case Purgeable::refresh_tokens:
        return "refresh_tokens";
    case Purgeable::pending_consents:
        return "pending_consents";
    case Purgeable::authorization_requests:
        return "authorization_requests";
    case Purgeable::sessions:
        return "sessions";
    case Purgeable::deep_links:
        return "deep_links";
    case Purgeable::reveals:
        return "reveals";
    case Purgeable::password_links:
        return "password_set_tokens";
    case Purgeable::rate_limit_windows:
        return "rate_limit_counters";
    case Purgeable::delivered_emails:
        return "outbox";
    case Purgeable::delivered_webhooks:
        return "webhook_deliveries";
    case Purgeable::webhook_events:
        return "webhook_events";
    case Purgeable::audit_events:
        return "audit_events";
    }
    return "unknown";
}

Sweeper::Sweeper(UnitOfWork& uow, const Clock& clock, Retention retention,
                 std::int64_t interval_seconds, std::shared_ptr<spdlog::logger> log)
    : uow_(uow), clock_(clock), retention_(retention), interval_seconds_(interval_seconds),
      log_(std::move(log)) {}

Sweeper::~Sweeper() {
    stop();
}

std::int64_t Sweeper::cutoff_for(Purgeable kind, std::int64_t now) const {
    switch (kind) {
    case Purgeable::refresh_tokens:
        return now - retention_.after_expiry_seconds - retention_.refresh_grace_seconds;
    case Purgeable::rate_limit_windows:
        return now - retention_.rate_limit_window_seconds;
    case Purgeable::delivered_emails:
    case Purgeable::delivered_webhooks:
    case Purgeable::webhook_events:
        return now - retention_.delivered_seconds;
    case Purgeable::audit_events:
        return now - retention_.audit_seconds;
    default:
        return now - retention_.after_expiry_seconds;
    }
}

void Sweeper::count_removed(std::map<std::string_view, std::int64_t>& removed,
                            std::string_view table, std::int64_t n) {
    if (n > 0) {
        removed[table] += n;
        telemetry_->count("provisiond_maintenance_purged_rows_total", {{"table", table}},
                          static_cast<double>(n));
    }
}

std::map<std::string_view, std::int64_t> Sweeper::sweep_once() {
    std::map<std::string_view, std::int64_t> removed;
    for (Purgeable kind : all_purgeables) {
        std::int64_t cutoff = cutoff_for(kind, clock_.now());
        for (int batch = 0; batch < max_batches_per_pass; ++batch) {
            Purged purged;
            auto done = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
                ASSIGN_OR_RETURN(purged, r.purges().purge(kind, cutoff, batch_size));
                return {};
            });
            if (!done) {
                log_->warn("maintenance: purging {} failed: {}", table_of(kind),
                           done.error().debug.empty() ? done.error().message : done.error().debug);
                break;
            }
            count_removed(removed, table_of(kind), purged.rows);
            count_removed(removed, token_families_table, purged.families);
            if (purged.rows < batch_size) {
                break;
            }
        }
    }
    for (const auto& [table, n] : removed) {
        log_->info("maintenance: removed {} expired rows from {}", n, table);
    }
    return removed;
}

void Sweeper::start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            sweep_once();
            lock.lock();
            wake_.wait_for(lock, std::chrono::seconds(interval_seconds_),
                           [this] { return stopping_; });
        }
    });
}

void Sweeper::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

} // namespace provisiond::maintenance
