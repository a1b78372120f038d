#include <cstdio>

#include "courier/bench/load.h"

namespace courier::bench {
namespace {

constexpr int64_t kTickNs = 100'000'000;  // how often the run checks its clock and the stop flag

}  // namespace

Driver::Driver(const LoadSpec& spec, double drain_s)
    : spec_(spec), drain_s_(drain_s), base_(event_base_new()) {}

Driver::~Driver() {
  if (tick_ != nullptr) event_free(tick_);
  event_base_free(base_);
}

bool Driver::mayStart() {
  if (stopping_) return false;
  if (spec_.requests > 0 && started_ >= spec_.requests) return false;
  ++started_;
  return true;
}

void Driver::completed(int64_t latency_ns) {
  ++completed_;
  last_completion_ns_ = nowNs();
  latencies_.add(latency_ns);
}

void Driver::error(const std::string& kind) { ++errors_[kind]; }

void Driver::abort(const std::string& why) {
  if (abort_reason_.empty()) abort_reason_ = why;
  stopping_ = true;
}

void Driver::run(const std::function<void()>& on_start, const std::function<bool()>& idle) {
  idle_ = idle;
  start_ns_ = nowNs();
  last_print_ns_ = start_ns_;
  stop_ns_ =
      spec_.requests > 0 ? INT64_MAX : start_ns_ + static_cast<int64_t>(spec_.duration_s * 1e9);
  tick_ = event_new(base_, -1, EV_PERSIST, &Driver::onTick, this);
  const timeval tv{0, static_cast<suseconds_t>(kTickNs / 1000)};
  event_add(tick_, &tv);
  on_start();
  event_base_dispatch(base_);
  event_del(tick_);
  printProgress(true);
}

void Driver::onTick(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Driver*>(arg)->tick();
}

void Driver::tick() {
  const int64_t now = nowNs();
  if (g_interrupted.load()) abort("interrupted");
  const bool all_started = spec_.requests > 0 && started_ >= spec_.requests;
  if (!stopping_ && (now >= stop_ns_ || all_started)) stopping_ = true;
  if (stopping_ && drain_deadline_ns_ == 0) {
    drain_deadline_ns_ = now + static_cast<int64_t>(drain_s_ * 1e9);
  }
  if (stopping_ && (idle_() || now >= drain_deadline_ns_ || g_interrupted.load())) {
    if (!idle_()) error("unfinished_at_drain_deadline");
    event_base_loopbreak(base_);
    return;
  }
  if (now - last_print_ns_ >= 1'000'000'000) printProgress(false);
}

void Driver::printProgress(bool final) {
  const int64_t now = nowNs();
  const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
  const double window = static_cast<double>(now - last_print_ns_) / 1e9;
  const double rps =
      window > 0 ? static_cast<double>(completed_ - completed_at_last_print_) / window : 0;
  completed_at_last_print_ = completed_;
  last_print_ns_ = now;
  const char* phase = stopping_ ? "draining" : "running";
  if (final) phase = "done";
  // On a terminal the line rewrites itself; in a log (CI, `make bench | tee`) it is one line a
  // second.
  std::fprintf(stderr, "%s[%s] %s %5.1fs  completed %lld  errors %lld  %.0f req/s%s",
               spec_.progress_tty ? "\r\033[K" : "", spec_.label.c_str(), phase, elapsed,
               static_cast<long long>(completed_), static_cast<long long>(totalErrors(errors_)),
               rps, spec_.progress_tty && !final ? "" : "\n");
  std::fflush(stderr);
}

void Driver::fill(RunResult& result) {
  result.label = spec_.label;
  result.group = spec_.group;
  result.concurrency = spec_.concurrency;
  result.completed = completed_;
  result.errors = errors_;
  const int64_t end = last_completion_ns_ > 0 ? last_completion_ns_ : nowNs();
  result.elapsed_s = static_cast<double>(end - start_ns_) / 1e9;
  result.throughput = result.elapsed_s > 0 ? static_cast<double>(completed_) / result.elapsed_s : 0;
  if (latencies_.dropped() > 0) {
    result.note +=
        "latency samples capped; " + std::to_string(latencies_.dropped()) + " not recorded. ";
  }
  result.sorted_us = latencies_.takeSorted();
  result.latency = summarize(result.sorted_us);
  if (!abort_reason_.empty()) result.note += "stopped early: " + abort_reason_ + ". ";
}

bool prepareRuntimes(BenchEnv& env, const std::string& prefix, int count,
                     std::vector<std::string>* ids, RunResult* result) {
  for (int i = 0; i < count; ++i) ids->push_back(prefix + "-rt" + std::to_string(i));
  std::string why;
  if (env.registerRuntimes(*ids, &why)) return true;
  result->skipped = true;
  result->note = "skipped: " + why;
  return false;
}

void measure(Driver& driver, CostMeter& meter, RunResult* result,
             const std::function<void()>& on_start, const std::function<bool()>& idle) {
  meter.begin();
  driver.run(on_start, idle);
  meter.end();
  driver.fill(*result);
  meter.fill(*result);
}

}  // namespace courier::bench
