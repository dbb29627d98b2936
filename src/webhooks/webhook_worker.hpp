#pragma once
// Delivers webhooks: fans each new event out to the endpoints that want it, POSTs every due
// delivery with Standard Webhooks headers, and retries failures with exponential backoff
// (--webhook-retry-seconds doubling, at most 1 h). The database rows are the state: nothing is
// lost across restarts or a kill -9, and a slow or dead endpoint never blocks an API request.

#include "core/clock.hpp"
#include "core/telemetry.hpp"
#include "core/unit_of_work.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace provisiond::webhooks {

struct WorkerSettings {
    std::string settings_url;     ///< --webhook-url; empty: no settings endpoint
    std::string settings_secret;  ///< --webhook-secret ("whsec_…")
    std::string secrets_key_path; ///< opens the endpoints' sealed secrets (read when it appears)
    std::int64_t retry_base_seconds = 10;
    long timeout_ms = 10000;
};

class WebhookWorker {
public:
    WebhookWorker(UnitOfWork& uow, const Clock& clock, WorkerSettings settings,
                  std::shared_ptr<spdlog::logger> log);
    ~WebhookWorker();
    void start();
    void stop();
    /// Fans out new events, then delivers what is due; returns how many were delivered.
    int run_once();
    /// Attempts and the backlog are reported there.
    void report_to(Telemetry& telemetry) { telemetry_.report_to(telemetry); }

private:
    struct Target {
        std::string id;
        std::string url;
        std::optional<std::string> key;  ///< the secret's key bytes; none: cannot sign yet
        std::vector<std::string> events; ///< empty: every event
    };
    /// Every endpoint. One whose secret cannot be opened (no key file yet, or not the file it
    /// was sealed with) still gets its events fanned out; its deliveries wait for the key.
    Result<std::vector<Target>> load_targets();
    /// One POST; an error describes the failure.
    Result<void> post(const Target& target, const std::string& id, const std::string& body);

    TelemetryHook telemetry_;
    UnitOfWork& uow_;
    const Clock& clock_;
    WorkerSettings settings_;
    std::shared_ptr<spdlog::logger> log_;
    std::optional<std::string> secrets_key_;
    std::set<std::string> unsigned_endpoints_; ///< logged once each, until they can sign
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

} // namespace provisiond::webhooks
