// A worker's metrics: plain relaxed atomics written only by the worker's own thread, so the hot
// path takes no lock (prometheus-cpp's Histogram::Observe and Family::Add do). A scrape, on
// any thread, reads them and hands the figures to the registry (node/metrics_registry.h).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

namespace courier {

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void add(int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Fixed buckets (upper bounds in seconds), cumulative at scrape time.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size(): above the last bound).
  uint64_t bucket(size_t i) const { return counts_[i].get(); }
  uint64_t count() const { return count_.get(); }
  double sum() const { return static_cast<double>(sum_us_.get()) / 1e6; }

 private:
  std::vector<double> bounds_;
  std::vector<Counter> counts_;
  Counter count_;
  Counter sum_us_;
};

inline constexpr std::array<std::string_view, 7> kStatuses = {
    "pending", "running", "completed", "failed", "timeout", "conflict", "cancelled"};
inline constexpr size_t kMaxKinds = 8;
// Response codes counted one by one; anything else counts as "other" (the last slot).
inline constexpr std::array<int, 13> kHttpCodes = {200, 201, 204, 400, 401, 403, 404,
                                                   405, 409, 413, 429, 500, 503};
inline constexpr size_t kOtherCode = kHttpCodes.size();

struct WorkerMetrics {
  // `kinds` names the kinds in table order (indexes below); `routes` the router's route tags.
  WorkerMetrics(std::vector<std::string_view> kinds, size_t routes);

  std::vector<std::string_view> kinds;
  std::array<Counter, kMaxKinds> created;
  std::array<Counter, kMaxKinds> claimed;
  std::array<Counter, kMaxKinds> released;  // claims given back: their daemon hung up first
  std::array<std::array<Counter, kStatuses.size()>, kMaxKinds> ended;
  std::deque<Histogram> duration;  // per kind: create → terminal (a deque: never moved)
  Gauge parked_claims;
  Gauge parked_gets;
  Gauge parked_events;
  Histogram redis_roundtrip;
  Counter redis_commands;
  Counter redis_reconnects;
  Counter wakeups;
  // [route tag][index in kHttpCodes]
  std::vector<std::array<Counter, kHttpCodes.size() + 1>> responses;

  int kindIndex(std::string_view kind) const;
  static int statusIndex(std::string_view status);
  void countResponse(uint32_t route, int status);
};

}  // namespace courier
