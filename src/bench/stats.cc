#include "courier/bench/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace courier::bench {

void LatencyRecorder::add(int64_t ns) {
  const int64_t us =
      std::clamp<int64_t>((ns + 500) / 1000, 0, std::numeric_limits<uint32_t>::max());
  addUs(static_cast<uint32_t>(us));
}

void LatencyRecorder::addUs(uint32_t us) {
  if (samples_.size() >= kMaxSamples) {
    ++dropped_;
    return;
  }
  samples_.push_back(us);
}

std::vector<uint32_t> LatencyRecorder::takeSorted() {
  std::sort(samples_.begin(), samples_.end());
  return std::move(samples_);
}

LatencySummary summarize(const std::vector<uint32_t>& sorted_us) {
  LatencySummary s;
  s.count = static_cast<int64_t>(sorted_us.size());
  if (sorted_us.empty()) return s;
  double sum = 0;
  for (uint32_t v : sorted_us) sum += v;
  s.mean_ms = sum / static_cast<double>(sorted_us.size()) / 1000.0;
  const auto at = [&](double q) {
    // Nearest rank: the smallest sample with at least q of the samples at or below it.
    const double rank = std::ceil(q * static_cast<double>(sorted_us.size()));
    const size_t i = static_cast<size_t>(std::max(1.0, rank)) - 1;
    return sorted_us[std::min(i, sorted_us.size() - 1)] / 1000.0;
  };
  s.p50_ms = at(0.50);
  s.p90_ms = at(0.90);
  s.p99_ms = at(0.99);
  s.p999_ms = at(0.999);
  s.max_ms = sorted_us.back() / 1000.0;
  return s;
}

int64_t totalErrors(const ErrorCounts& errors) {
  int64_t n = 0;
  for (const auto& [kind, count] : errors) n += count;
  return n;
}

}  // namespace courier::bench
