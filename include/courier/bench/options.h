// courier-bench's command line.
#pragma once

#include <string>
#include <vector>

namespace courier::bench {

struct Options {
  std::vector<std::string> modes;  // subset of courier, polling, bullmq, nchan, in that order
  double duration_s = 10;
  int64_t requests = 0;
  int concurrency = 32;
  int daemons = 4;
  int work_ms = 0;
  double rate = 0;
  int nodes = 1;
  int node_workers = 1;
  int heartbeat_ms = 15000;
  int poll_ms = 500;
  double polling_duration_s = 0;  // 0 = duration_s
  double wake_duration_s = 0;     // 0 = duration_s
  int settle_ms = 30;
  std::vector<int> sweep;  // concurrency levels for courier and bullmq; empty = no sweep
  double sweep_duration_s = 5;
  int idle_claims = 0;
  double idle_window_s = 10;
  std::string out_dir = "bench/results";
  bool standard = false;
  bool keep_logs = false;

  std::string courier_bin;  // default: `courier` next to this binary
  std::string redis_bin = "redis-server";
  std::string nginx_bin = "nginx";
  std::string nchan_module = "/usr/lib/nginx/modules/ngx_nchan_module.so";
  std::string node_bin = "node";
  std::string peers_dir;  // default: ../bench/peers from this binary, else ./bench/peers

  std::string command_line;
};

// Parses argv. Returns false after printing help or an error; `exit_code` says which.
bool parseOptions(int argc, char** argv, Options* options, int* exit_code);

// The `make bench` preset: a comparison of a few minutes at most.
void applyStandardPreset(Options* options);

}  // namespace courier::bench
