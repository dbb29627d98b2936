#pragma once
// What the code reports while it works — counters, observations, levels — by name, without
// knowing how they are exposed. metrics/prometheus_telemetry.cpp turns them into Prometheus
// metrics on the admin listener; tests and CLI commands use NullTelemetry. Label values must come
// from small fixed sets (routes, statuses, error codes), never from what a caller typed.

#include <initializer_list>
#include <string_view>
#include <utility>

namespace provisiond {

using MetricLabels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class Telemetry {
public:
    virtual ~Telemetry() = default;
    /// Adds `by` to the counter `name` with these labels.
    virtual void count(std::string_view name, MetricLabels labels = {}, double by = 1) = 0;
    /// Records one observation (seconds, sizes) in the histogram `name`.
    virtual void observe(std::string_view name, double value, MetricLabels labels = {}) = 0;
    /// Sets the gauge `name`.
    virtual void set(std::string_view name, double value, MetricLabels labels = {}) = 0;
};

/// Reports nowhere.
class NullTelemetry final : public Telemetry {
public:
    void count(std::string_view, MetricLabels, double) override {}
    void observe(std::string_view, double, MetricLabels) override {}
    void set(std::string_view, double, MetricLabels) override {}
};

/// Where a long-lived part reports: nowhere until the composition root says otherwise with
/// report_to() (so services built by tests and CLI commands need no telemetry).
class TelemetryHook {
public:
    void report_to(Telemetry& telemetry) { target_ = &telemetry; }
    Telemetry* operator->() { return target_ ? target_ : &none_; }

private:
    NullTelemetry none_;
    Telemetry* target_ = nullptr;
};

} // namespace provisiond
