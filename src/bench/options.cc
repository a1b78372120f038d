#include "courier/bench/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <sstream>

namespace courier::bench {
namespace {

const std::vector<std::string> kAllModes = {"courier", "bullmq", "nchan", "polling"};

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

bool parseOptions(int argc, char** argv, Options* o, int* exit_code) {
  CLI::App app{
      "courier-bench: Courier against the polling protocol it replaces, BullMQ and nchan, on one "
      "machine and one Redis"};
  std::string modes = "courier,bullmq,nchan,polling";
  std::string sweep;
  app.add_option("--modes", modes, "comma-separated: courier,polling,bullmq,nchan");
  app.add_option("--duration", o->duration_s, "seconds per run (default 10)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--requests", o->requests, "requests per run instead of a duration")
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  app.add_option("--concurrency", o->concurrency, "frontend clients in flight (default 32)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--daemons", o->daemons, "simulated daemons (default 4)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--work-ms", o->work_ms, "daemon work per request (default 0)")
      ->check(CLI::Range(0, 60000));
  app.add_option("--rate", o->rate,
                 "fixed arrival rate (req/s, courier mode) instead of "
                 "fixed concurrency")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--nodes", o->nodes, "courier nodes, used round-robin (default 1)")
      ->check(CLI::Range(1, 16));
  app.add_option("--node-workers", o->node_workers, "--workers of each node (default 1)")
      ->check(CLI::Range(1, 64));
  app.add_option("--heartbeat-ms", o->heartbeat_ms, "polling: daemon heartbeat (default 15000)")
      ->check(CLI::Range(10, 600000));
  app.add_option("--poll-ms", o->poll_ms, "polling: browser poll period (default 500)")
      ->check(CLI::Range(1, 60000));
  app.add_option("--polling-duration", o->polling_duration_s,
                 "polling: seconds (default: --duration)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--wake-duration", o->wake_duration_s,
                 "nchan and courier-wake: seconds each (default: --duration)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--settle-ms", o->settle_ms,
                 "wake-up runs: ms a parked call waits before the event (default 30)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--sweep", sweep, "concurrency levels for a courier/bullmq sweep, e.g. 1,8,32");
  app.add_option("--sweep-duration", o->sweep_duration_s, "seconds per sweep point (default 5)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--idle-claims", o->idle_claims, "idle scale: K parked claims (0 = skip)")
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--idle-window", o->idle_window_s, "idle scale: seconds measured (default 10)")
      ->check(CLI::Range(1.0, 40.0));
  app.add_option("--out", o->out_dir, "output directory (default bench/results)");
  app.add_flag("--standard", o->standard,
               "the `make bench` preset: all modes, a sweep and idle scale, a few minutes");
  app.add_flag("--keep-logs", o->keep_logs, "keep the temp dir with node/nginx/BullMQ logs");
  app.add_option("--courier-bin", o->courier_bin, "node binary (default: next to this one)");
  app.add_option("--redis-server", o->redis_bin, "redis-server binary");
  app.add_option("--nginx", o->nginx_bin, "nginx binary");
  app.add_option("--nchan-module", o->nchan_module, "ngx_nchan_module.so path");
  app.add_option("--node", o->node_bin, "Node.js binary for the BullMQ peer");
  app.add_option("--peers-dir", o->peers_dir, "directory holding bullmq/ and nchan/");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    return false;
  }
  o->modes.clear();
  for (const auto& m : splitList(modes)) {
    if (std::find(kAllModes.begin(), kAllModes.end(), m) == kAllModes.end()) {
      std::cerr << "--modes: unknown mode '" << m << "' (courier, polling, bullmq, nchan)\n";
      *exit_code = 2;
      return false;
    }
  }
  // Canonical order whatever the order given: the comparison reads the same every time.
  for (const auto& m : kAllModes) {
    const auto given = splitList(modes);
    if (std::find(given.begin(), given.end(), m) != given.end()) o->modes.push_back(m);
  }
  o->sweep.clear();
  for (const auto& s : splitList(sweep)) {
    const int c = std::atoi(s.c_str());
    if (c < 1 || c > 4096) {
      std::cerr << "--sweep: bad concurrency '" << s << "'\n";
      *exit_code = 2;
      return false;
    }
    o->sweep.push_back(c);
  }
  for (int i = 0; i < argc; ++i) o->command_line += (i > 0 ? " " : "") + std::string(argv[i]);
  if (o->standard) applyStandardPreset(o);
  return true;
}

void applyStandardPreset(Options* o) {
  o->modes = kAllModes;
  o->requests = 0;
  o->rate = 0;
  o->concurrency = 32;
  o->duration_s = 15;
  o->wake_duration_s = 10;
  o->polling_duration_s = 60;
  o->heartbeat_ms = 15000;
  o->poll_ms = 500;
  o->sweep = {1, 8, 32, 128};
  o->sweep_duration_s = 5;
  o->idle_claims = 10000;
  o->idle_window_s = 10;
}

}  // namespace courier::bench
