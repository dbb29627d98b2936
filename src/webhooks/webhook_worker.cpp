#include "webhooks/webhook_worker.hpp"

#include "crypto/one_time_seal.hpp"
#include "webhooks/secrets_key.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/webhook_repository.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

namespace provisiond::webhooks {
namespace {

constexpr std::int64_t batch_size = 50;
/// Deliveries claimed per pass; the claim keeps other processes off them long enough to send
/// them all at the request timeout (WorkerSettings::timeout_ms), then they are due again.
constexpr std::int64_t claim_size = 10;
constexpr std::int64_t max_backoff_seconds = 3600;
constexpr auto poll_interval = std::chrono::milliseconds(500);

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
    return size * count; // the endpoint's answer body is not used
}

bool wants(const std::vector<std::string>& events, const std::string& type) {
    return events.empty() || std::find(events.begin(), events.end(), type) != events.end();
}

} // namespace

WebhookWorker::WebhookWorker(UnitOfWork& uow, const Clock& clock, WorkerSettings settings,
                             std::shared_ptr<spdlog::logger> log)
    : uow_(uow), clock_(clock), settings_(std::move(settings)), log_(std::move(log)) {}

WebhookWorker::~WebhookWorker() {
    stop();
}

void WebhookWorker::start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            int delivered = run_once();
            lock.lock();
            // A full claim delivered: more may be waiting, so go on at once.
            if (delivered < claim_size) {
                wake_.wait_for(lock, poll_interval, [this] { return stopping_; });
            }
        }
    });
}

void WebhookWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

Result<std::vector<WebhookWorker::Target>> WebhookWorker::load_targets() {
    std::vector<Target> out;
    if (!settings_.settings_url.empty()) {
        out.push_back({std::string(settings_endpoint_id),
                       settings_.settings_url,
                       secret_key(settings_.settings_secret),
                       {}});
    }
    std::vector<Endpoint> stored;
    RETURN_IF_ERROR(uow_.run(TransactionMode::read, [&](Repositories& r) {
        auto found = r.webhooks().endpoints();
        if (!found) {
            return Result<void>(found.error());
        }
        stored = std::move(*found);
        return Result<void>();
    }));
    if (!stored.empty() && !secrets_key_) {
        // `webhooks add` creates the key file while we serve: read it once it is there.
        if (auto key = load_secrets_key(settings_.secrets_key_path, false)) {
            secrets_key_ = *key;
        }
    }
    for (auto& e : stored) {
        std::optional<std::string> secret;
        if (secrets_key_) {
            secret = crypto::open_sealed(e.secret_box, *secrets_key_);
        }
        auto key = secret ? secret_key(*secret) : std::nullopt;
        if (!key && unsigned_endpoints_.insert(e.id).second) {
            log_->error("webhooks: cannot open the signing secret of endpoint {} (is "
                        "--secrets-key-file {} the file it was sealed with? restore it, or run "
                        "`provisiond webhooks rotate-secret {}`); its deliveries wait",
                        e.id, settings_.secrets_key_path, e.id);
        } else if (key) {
            unsigned_endpoints_.erase(e.id);
        }
        out.push_back({e.id, e.url, key, e.events});
    }
    return out;
}

Result<void> WebhookWorker::post(const Target& target, const std::string& id,
                                 const std::string& body) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
        return make_error(ErrorCode::unavailable, "curl_easy_init failed");
    }
    std::int64_t timestamp = clock_.now();
    const std::string& key = *target.key;
    std::string headers_text[] = {
        "content-type: application/json",
        "user-agent: provisiond-webhooks",
        "webhook-id: " + id,
        "webhook-timestamp: " + std::to_string(timestamp),
        "webhook-signature: " + sign(key, id, timestamp, body),
    };
    curl_slist* raw = nullptr;
    for (const auto& h : headers_text) {
        raw = curl_slist_append(raw, h.c_str());
    }
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(raw, curl_slist_free_all);
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, target.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(5000L, settings_.timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, settings_.timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode code = curl_easy_perform(h);
    if (code != CURLE_OK) {
        return make_error(ErrorCode::unavailable, curl_easy_strerror(code));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        return make_error(ErrorCode::unavailable, "HTTP " + std::to_string(status));
    }
    return {};
}

int WebhookWorker::run_once() {
    auto targets = load_targets();
    if (!targets) {
        log_->warn("webhooks: cannot read endpoints: {}", targets.error().debug);
        return 0;
    }
    // Fan out: each new event gets one delivery per endpoint that wants it, in one transaction
    // per event (the event row itself was written with its change).
    auto fanned = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        auto events = r.webhooks().unfanned(batch_size);
        if (!events) {
            return Result<void>(events.error());
        }
        for (const auto& event : *events) {
            std::vector<std::string> ids;
            for (const auto& t : *targets) {
                if (wants(t.events, event.type)) {
                    ids.push_back(t.id);
                }
            }
            RETURN_IF_ERROR(r.webhooks().fan_out(event.id, ids, clock_.now()));
        }
        return Result<void>();
    });
    if (!fanned) {
        log_->warn("webhooks: cannot fan out events: {}", fanned.error().debug);
    }
    std::vector<Delivery> due;
    auto read = uow_.run(TransactionMode::write, [&](Repositories& r) {
        std::int64_t now = clock_.now();
        std::int64_t claim_seconds = claim_size * (settings_.timeout_ms / 1000 + 1) + 60;
        auto found = r.webhooks().claim_due(now, claim_size, now + claim_seconds);
        if (!found) {
            return Result<void>(found.error());
        }
        due = std::move(*found);
        auto pending = r.webhooks().pending_counts();
        if (!pending) {
            return Result<void>(pending.error());
        }
        std::int64_t waiting = 0;
        for (const auto& [endpoint, n] : *pending) {
            waiting += n;
        }
        telemetry_->set("provisiond_webhook_pending", static_cast<double>(waiting));
        return Result<void>();
    });
    if (!read) {
        log_->warn("webhooks: cannot read due deliveries: {}", read.error().debug);
        return 0;
    }
    int delivered = 0;
    for (const auto& d : due) {
        auto target = std::find_if(targets->begin(), targets->end(),
                                   [&](const Target& t) { return t.id == d.endpoint_id; });
        if (target == targets->end() || !target->key) {
            // Its secret cannot be opened, or --webhook-url is no longer set: it waits, due
            // again on the next pass (given back unattempted, not held for the claim).
            auto released = uow_.run(TransactionMode::write, [&](Repositories& r) {
                return r.webhooks().release(d.event.id, d.endpoint_id, clock_.now());
            });
            if (!released) {
                log_->warn("webhooks: cannot give back delivery of {}: {}", d.event.id,
                           released.error().debug);
            }
            continue;
        }
        auto sent = post(*target, d.event.id, d.event.body);
        telemetry_->count("provisiond_webhook_deliveries_total",
                          {{"outcome", sent ? "delivered" : "failed"}});
        std::int64_t now = clock_.now();
        auto recorded = uow_.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
            if (sent) {
                return r.webhooks().mark_delivered(d.event.id, d.endpoint_id, now);
            }
            std::int64_t backoff = std::min<std::int64_t>(
                max_backoff_seconds,
                settings_.retry_base_seconds << std::min<std::int64_t>(d.attempts, 12));
            return r.webhooks().mark_failed(d.event.id, d.endpoint_id, sent.error().message,
                                            now + backoff);
        });
        if (sent) {
            ++delivered;
            log_->info("webhooks: delivered {} {} to {}", d.event.type, d.event.id, d.endpoint_id);
        } else {
            log_->warn("webhooks: delivery of {} to {} failed (attempt {}): {}", d.event.id,
                       d.endpoint_id, d.attempts + 1, sent.error().message);
        }
        if (!recorded) {
            log_->warn("webhooks: cannot record delivery of {}: {}", d.event.id,
                       recorded.error().debug);
        }
    }
    return delivered;
}

} // namespace provisiond::webhooks
