#pragma once
// Telemetry as Prometheus metrics (Debian's prometheus-cpp-dev: its registry and text
// serializer, not a hand-written exposition). Every metric is declared here, with its help text;
// a name the code reports that is not declared is ignored. docs/OPERATIONS.md lists them.

#include "core/telemetry.hpp"

#include <map>
#include <memory>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <string>

namespace provisiond::metrics {

class PrometheusTelemetry final : public Telemetry {
public:
    PrometheusTelemetry();
    void count(std::string_view name, MetricLabels labels, double by) override;
    void observe(std::string_view name, double value, MetricLabels labels) override;
    void set(std::string_view name, double value, MetricLabels labels) override;

    /// Every metric in the Prometheus text format (version 0.0.4).
    std::string exposition() const;

private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::map<std::string, prometheus::Family<prometheus::Counter>*, std::less<>> counters_;
    std::map<std::string, prometheus::Family<prometheus::Gauge>*, std::less<>> gauges_;
    struct HistogramFamily {
        prometheus::Family<prometheus::Histogram>* family;
        prometheus::Histogram::BucketBoundaries buckets;
    };
    std::map<std::string, HistogramFamily, std::less<>> histograms_;
};

} // namespace provisiond::metrics
