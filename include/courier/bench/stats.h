// Latency samples, errors by kind, and what a run reports.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace courier::bench {

// Every sample of one run, in microseconds. Kept whole (not a histogram) so percentiles and the
// CDF plot are exact; the cap bounds memory (at 4 bytes a sample) on absurdly long runs.
class LatencyRecorder {
 public:
  static constexpr size_t kMaxSamples = 20'000'000;

  void add(int64_t ns);
  size_t count() const { return samples_.size(); }
  int64_t dropped() const { return dropped_; }
  // Sorts in place and hands the samples over.
  std::vector<uint32_t> takeSorted();

  void addUs(uint32_t us);

 private:
  std::vector<uint32_t> samples_;
  int64_t dropped_ = 0;
};

struct LatencySummary {
  int64_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

// Percentiles by the nearest-rank method over sorted microsecond samples.
LatencySummary summarize(const std::vector<uint32_t>& sorted_us);

// Errors by kind: "http_503", "http_409", "timeout", "connection", "bad_body", ...
using ErrorCounts = std::map<std::string, int64_t>;

// One measured run of one mode, as the table, results.json and the plots show it.
struct RunResult {
  std::string mode;   // courier | polling | bullmq | nchan | courier-wake
  std::string label;  // e.g. "courier c=32"
  std::string group;  // "main", "sweep", "wake"
  int concurrency = 0;
  double elapsed_s = 0;  // measured window (start of load → last completion)
  int64_t completed = 0;
  ErrorCounts errors;
  LatencySummary latency;
  std::vector<uint32_t> sorted_us;  // for the CDF; not written to results.json whole
  double throughput = 0;            // completed / elapsed_s

  // Costs per completed request; nullopt = not measured / not applicable.
  std::optional<double> redis_calls_per_req;   // INFO commandstats, includes in-script calls
  std::optional<double> redis_script_per_req;  // EVALSHA + EVAL (+ FCALL)
  std::optional<double> redis_other_per_req;   // the rest (in-script or top-level)
  std::optional<double> redis_cpu_us_per_req;
  std::optional<double> server_cpu_ms_per_req;    // node(s) / nginx / the BullMQ process
  std::optional<double> node_roundtrips_per_req;  // node's courier_redis_commands_total
  double server_cpu_pct = 0;                      // of one core, over the window
  double redis_cpu_pct = 0;
  double client_cpu_pct = 0;  // courier-bench itself (the BullMQ peer is client and server)
  // Everything else on the machine over the window (/proc/stat busy time minus the three
  // above): a shared machine's noise, shown so a reader can tell a quiet run from a busy one.
  double other_cpu_pct = 0;
  std::map<std::string, int64_t> redis_by_command;
  std::string server_what;  // what "server" means for this mode
  std::string note;
  bool skipped = false;
};

int64_t totalErrors(const ErrorCounts& errors);

}  // namespace courier::bench
