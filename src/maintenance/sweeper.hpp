#pragma once
// Background maintenance: every --maintenance-interval-seconds, expired codes, tokens past
// their lifetime (and grace), consent states, sessions, deep links, set-password links, old
// rate-limit windows, and delivered emails and webhooks are deleted in small batches, each its
// own short transaction, so requests never wait behind a big delete. What it removed is counted
// in provisiond_maintenance_purged_rows_total{table}.

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "core/unit_of_work.hpp"
#include "maintenance/purge_repository.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace provisiond::maintenance {

/// When rows become removable: how long after they expire (or were delivered) they stay.
struct Retention {
    std::int64_t after_expiry_seconds = 3600;       ///< a replayed code still finds its row
    std::int64_t delivered_seconds = 7 * 24 * 3600; ///< delivered emails and webhooks
    std::int64_t rate_limit_window_seconds = 2 * 3600;
    std::int64_t refresh_grace_seconds = 0;
    std::int64_t audit_seconds = 90 * 24 * 3600;
};

class Sweeper {
public:
    static constexpr std::int64_t batch_size = 500;

    Sweeper(UnitOfWork& uow, const Clock& clock, Retention retention, std::int64_t interval_seconds,
            std::shared_ptr<spdlog::logger> log);
    ~Sweeper();
    void start();
    void stop();
    /// One full pass; rows removed per table.
    std::map<std::string_view, std::int64_t> sweep_once();
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    std::int64_t cutoff_for(Purgeable kind, std::int64_t now) const;
    /// Adds `n` rows removed from `table` to the pass's tally and to the metric.
    void count_removed(std::map<std::string_view, std::int64_t>& removed, std::string_view table,
                       std::int64_t n);

    TelemetryHook telemetry_;
    UnitOfWork& uow_;
    const Clock& clock_;
    Retention retention_;
    std::int64_t interval_seconds_;
    std::shared_ptr<spdlog::logger> log_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

} // namespace provisiond::maintenance
