#include "metrics/prometheus_telemetry.hpp"

#include <prometheus/text_serializer.h>

namespace provisiond::metrics {
namespace {

prometheus::Labels to_labels(MetricLabels labels) {
    prometheus::Labels out;
    for (const auto& [key, value] : labels) {
        out.emplace(std::string(key), std::string(value));
    }
    return out;
}

const prometheus::Histogram::BucketBoundaries latency_buckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

} // namespace

PrometheusTelemetry::PrometheusTelemetry() : registry_(std::make_shared<prometheus::Registry>()) {
    auto counter = [this](const char* name, const char* help) {
        counters_[name] = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
    };
    auto gauge = [this](const char* name, const char* help) {
        gauges_[name] = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
    };
    auto histogram = [this](const char* name, const char* help,
                            const prometheus::Histogram::BucketBoundaries& buckets) {
        histograms_[name] = {
            &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_), buckets};
    };
    counter("provisiond_http_requests_total",
            "HTTP requests answered, by route pattern, method and status");
    histogram("provisiond_http_request_duration_seconds",
              "Time from a request's last byte read to its answer, by route pattern",
              latency_buckets);
    gauge("provisiond_http_connections_open", "Client connections open on the public listener");
    counter("provisiond_http_connections_refused_total",
            "Connections closed unanswered at accept, by reason (max_connections, per_address)");
    counter("provisiond_token_grants_total",
            "Token requests by grant_type (authorization_code, refresh_token, other) and outcome "
            "(issued, or the OAuth error code)");
    counter("provisiond_code_replays_total",
            "Authorization codes presented again after use (the tokens they produced are revoked)");
    counter("provisiond_family_revocations_total",
            "Refresh-token families revoked, by reason (code_replayed, refresh_token_reused, "
            "disconnect, resource_removed, revoked)");
    counter(
        "provisiond_account_requests_total",
        "account_requests answers by outcome (new, requires_auth, replayed, or the error code)");
    counter("provisiond_metadata_fetches_total",
            "Client metadata document fetches by outcome (registered, refreshed, rejected, "
            "failed)");
    counter("provisiond_metadata_cache_hits_total",
            "Client lookups answered from a fresh stored metadata document, without a fetch");
    gauge("provisiond_outbox_depth", "Emails waiting in the outbox");
    gauge("provisiond_outbox_oldest_undelivered_age_seconds",
          "Age of the oldest email still waiting (0 when none)");
    counter("provisiond_outbox_delivery_attempts_total",
            "Email delivery attempts by outcome (delivered, failed)");
    counter("provisiond_rate_limit_rejections_total",
            "Requests refused by a rate limit, by endpoint");
    histogram("provisiond_storage_transaction_seconds",
              "Database transaction time, from the pool's connection to commit, by mode",
              latency_buckets);
    histogram("provisiond_storage_pool_wait_seconds",
              "Time a transaction waited for a pooled database connection", latency_buckets);
    histogram("provisiond_storage_group_commit_units",
              "Write transactions committed together by group commit (one commit and fsync each "
              "batch)",
              {1, 2, 4, 8, 16, 32, 64});
    counter("provisiond_webhook_deliveries_total",
            "Webhook delivery attempts by outcome (delivered, failed)");
    gauge("provisiond_webhook_pending", "Webhook deliveries waiting (due or backing off)");
    counter("provisiond_maintenance_purged_rows_total",
            "Expired rows removed by background maintenance, by table");
}

void PrometheusTelemetry::count(std::string_view name, MetricLabels labels, double by) {
    if (auto it = counters_.find(name); it != counters_.end()) {
        it->second->Add(to_labels(labels)).Increment(by);
    }
}

void PrometheusTelemetry::observe(std::string_view name, double value, MetricLabels labels) {
    if (auto it = histograms_.find(name); it != histograms_.end()) {
        it->second.family->Add(to_labels(labels), it->second.buckets).Observe(value);
    }
}

void PrometheusTelemetry::set(std::string_view name, double value, MetricLabels labels) {
    if (auto it = gauges_.find(name); it != gauges_.end()) {
        it->second->Add(to_labels(labels)).Set(value);
    }
}

std::string PrometheusTelemetry::exposition() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

} // namespace provisiond::metrics
