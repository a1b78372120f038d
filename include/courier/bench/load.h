// The measured runs. Each builds its simulated clients on one event loop, drives them for a
// bounded time or request count, lets in-flight work drain (bounded too), and returns what it
// measured.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "courier/bench/env.h"
#include "courier/bench/stats.h"

namespace courier::bench {

struct LoadSpec {
  std::string label;  // progress line and table
  std::string group = "main";
  int concurrency = 32;    // frontend clients in flight (or pairs, for the wake-up runs)
  double duration_s = 10;  // ignored when requests > 0
  int64_t requests = 0;    // total to start; 0 = run for duration_s
  double rate = 0;         // arrivals per second (open loop); 0 = closed loop at `concurrency`
  int daemons = 4;
  int work_ms = 0;
  int heartbeat_ms = 15000;  // polling
  int poll_ms = 500;         // polling
  int settle_ms = 30;        // wake-up runs: how long a subscriber parks before the publish
  bool progress_tty = false;
};

// The loop, the clock and the counters of one run. Clients ask mayStart() before each request
// and report completed() / error(); run() returns once the run stopped starting work and every
// client went idle, or the drain deadline passed, or the harness was interrupted.
class Driver {
 public:
  Driver(const LoadSpec& spec, double drain_s);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  event_base* base() const { return base_; }
  bool mayStart();
  bool stopping() const { return stopping_; }
  void completed(int64_t latency_ns);
  void error(const std::string& kind);

  // Starts the clock, calls `on_start` (which sends the first requests), and runs the loop.
  // `idle` says whether every client is done with its current request.
  void run(const std::function<void()>& on_start, const std::function<bool()>& idle);
  // Stops starting new work at once (used when a run cannot go on, e.g. a route is missing).
  void abort(const std::string& why);

  // Fills counts, latencies and throughput into `result`.
  void fill(RunResult& result);
  int64_t startNs() const { return start_ns_; }
  const std::string& abortReason() const { return abort_reason_; }

 private:
  static void onTick(evutil_socket_t, short, void* arg) noexcept;
  void tick();
  void printProgress(bool final);

  LoadSpec spec_;
  double drain_s_;
  event_base* base_;
  event* tick_ = nullptr;
  std::function<bool()> idle_;
  int64_t start_ns_ = 0;
  int64_t stop_ns_ = 0;
  int64_t drain_deadline_ns_ = 0;
  int64_t last_completion_ns_ = 0;
  int64_t started_ = 0;
  int64_t completed_ = 0;
  int64_t completed_at_last_print_ = 0;
  int64_t last_print_ns_ = 0;
  bool stopping_ = false;
  LatencyRecorder latencies_;
  ErrorCounts errors_;
  std::string abort_reason_;
};

// Registers `count` runtimes named PREFIX-rt0…; on failure marks `result` skipped with the
// reason and returns false.
bool prepareRuntimes(BenchEnv& env, const std::string& prefix, int count,
                     std::vector<std::string>* ids, RunResult* result);

// Runs `driver` between the two snapshots of `meter`, then fills `result` from both.
void measure(Driver& driver, CostMeter& meter, RunResult* result,
             const std::function<void()>& on_start, const std::function<bool()>& idle);

// courier: F frontends (create → long-poll GET until terminal) and D daemons (long-poll claim →
// report), against the nodes round-robin.
RunResult runCourier(BenchEnv& env, const LoadSpec& spec);

// polling: the protocol Courier replaces, over the compatibility routes. One runtime per
// frontend client; its daemon heartbeats every heartbeat_ms and takes one model list per beat;
// the browser polls the record every poll_ms.
RunResult runPolling(BenchEnv& env, const LoadSpec& spec);

// courier-wake: P pairs of (a parked GET ?wait=30 on a running request, the daemon's report);
// the time from the report sent to the GET's response.
RunResult runCourierWake(BenchEnv& env, const LoadSpec& spec);

// nchan: the same shape on nginx + nchan with Redis storage: a parked long-poll subscriber, a
// publish; the time from the publish sent to the subscriber's response.
RunResult runNchan(BenchEnv& env, const LoadSpec& spec, const std::string& nginx_bin,
                   const std::string& module_path, const std::string& peers_dir);

// bullmq: PEERS/bullmq/bench.mjs as a child process on the same Redis; its log goes to
// work_dir.
RunResult runBullmq(BenchEnv& env, const LoadSpec& spec, const std::string& node_bin,
                    const std::string& peers_dir, const std::string& work_dir);

// Idle scale: K parked claims from 127.0.0.2… on one node; what they cost while nothing happens.
struct IdleResult {
  int requested = 0;
  int parked = 0;             // connections whose claim was still parked when measured
  int64_t early_replies = 0;  // claims answered before the end (should be 0)
  ErrorCounts errors;
  int64_t rss_before_kib = 0;
  int64_t rss_parked_kib = 0;
  double rss_per_claim_kib = 0;
  int64_t redis_clients_before = 0;  // Redis connections held by the node(s), K = 0
  int64_t redis_clients_parked = 0;  // … with K claims parked
  double idle_window_s = 0;
  double redis_commands_per_s = 0;  // all commands (INFO of the probe excluded)
  std::map<std::string, int64_t> idle_by_command;
  std::optional<double> parked_gauge;  // the node's courier_parked{type="claim"} if exposed
  double node_cpu_pct = 0;             // node CPU while idle
  std::string note;
  bool skipped = false;
};
IdleResult runIdle(BenchEnv& env, int claims, double idle_window_s, bool progress_tty);

}  // namespace courier::bench
