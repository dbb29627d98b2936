#pragma once
// Delivers webhooks: fans each new event out to the endpoints that want it, POSTs every due
// delivery with Standard Webhooks headers, and retries failures with exponential backoff
// (--webhook-retry-seconds doubling, at most 1 h). The database rows are the state: nothing is
// lost across restarts or a kill -9, and a slow or dead endpoint never blocks an API request.

#include "core/clock.hpp"
#include "storage/unit_of_work.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace provisiond::webhooks {

struct WorkerSettings {
    std::string settings_url;               ///< --webhook-url; empty: no settings endpoint
    std::string settings_secret;            ///< --webhook-secret ("whsec_…")
    std::optional<std::string> secrets_key; ///< opens the endpoints' sealed secrets
    std::int64_t retry_base_seconds = 10;
    long timeout_ms = 10000;
};

class WebhookWorker {
public:
    WebhookWorker(storage::UnitOfWork& uow, const Clock& clock, WorkerSettings settings,
                  std::shared_ptr<spdlog::logger> log);
    ~WebhookWorker();
    void start();
    void stop();
    /// Fans out new events, then delivers what is due; returns how many were delivered.
    int run_once();

private:
    struct Target {
        std::string id;
        std::string url;
        std::string key;                 ///< the secret's key bytes
        std::vector<std::string> events; ///< empty: every event
    };
    /// Every endpoint with its signing key; one whose secret cannot be opened is logged and left
    /// out (its deliveries wait until the key is restored or the secret rotated).
    Result<std::vector<Target>> load_targets();
    /// One POST; an error describes the failure.
    Result<void> post(const Target& target, const std::string& id, const std::string& body);

    storage::UnitOfWork& uow_;
    const Clock& clock_;
    WorkerSettings settings_;
    std::shared_ptr<spdlog::logger> log_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

} // namespace provisiond::webhooks
