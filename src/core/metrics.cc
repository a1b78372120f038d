#include "courier/core/metrics.h"

#include <algorithm>

namespace courier {
namespace {

std::vector<double> latencyBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,    1,     2.5,    5,     10,   30,    60,   120, 300};
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double seconds) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  counts_[i].inc();
  count_.inc();
  sum_us_.inc(seconds > 0 ? static_cast<uint64_t>(seconds * 1e6) : 0);
}

WorkerMetrics::WorkerMetrics(std::vector<std::string_view> kind_names, size_t routes)
    : kinds(std::move(kind_names)),
      redis_roundtrip({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                       0.5, 1, 2.5}),
      responses(routes) {
  if (kinds.size() > kMaxKinds) kinds.resize(kMaxKinds);
  for (size_t i = 0; i < kinds.size(); ++i) duration.emplace_back(latencyBounds());
}

int WorkerMetrics::kindIndex(std::string_view kind) const {
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i] == kind) return static_cast<int>(i);
  }
  return -1;
}

int WorkerMetrics::statusIndex(std::string_view status) {
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return static_cast<int>(i);
  }
  return -1;
}

void WorkerMetrics::countResponse(uint32_t route, int status) {
  if (route >= responses.size()) route = 0;
  size_t code = kOtherCode;
  for (size_t i = 0; i < kHttpCodes.size(); ++i) {
    if (kHttpCodes[i] == status) code = i;
  }
  responses[route][code].inc();
}

}  // namespace courier
