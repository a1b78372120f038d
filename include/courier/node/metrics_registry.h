// The node's /metrics: hands every worker's lock-free counters to prometheus-cpp at scrape time
// (a Collectable) and serializes them in the Prometheus text format.
#pragma once

#include <prometheus/collectable.h>

#include <string>
#include <vector>

#include "courier/core/metrics.h"

namespace courier::node {

class MetricsRegistry final : public prometheus::Collectable {
 public:
  // Set at start, before any worker serves: the names of the route tags
  // (http::Router::routeNames()) and every worker's metrics.
  void setRoutes(std::vector<std::string> routes) { routes_ = std::move(routes); }
  void addWorker(const WorkerMetrics* metrics) { workers_.push_back(metrics); }

  std::vector<prometheus::MetricFamily> Collect() const override;
  // The text exposition format (thread-safe: reads relaxed atomics only).
  std::string scrape() const;

 private:
  std::vector<std::string> routes_;
  std::vector<const WorkerMetrics*> workers_;
};

}  // namespace courier::node
