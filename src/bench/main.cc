// courier-bench: runs Courier and its peers one after the other on one private Redis, on this
// machine, and reports latency, throughput and cost side by side (README "Performance").

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "courier/bench/env.h"
#include "courier/bench/load.h"
#include "courier/bench/options.h"
#include "courier/bench/process.h"
#include "courier/bench/report.h"

namespace courier::bench {
namespace {

std::string dirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string selfDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? dirOf(std::string(buf, static_cast<size_t>(n))) : ".";
}

bool isDir(const std::string& path) { return ::access(path.c_str(), R_OK | X_OK) == 0; }

// The first line a program prints for `argv` (its version), "" if it cannot run.
std::string firstLineOf(const std::vector<std::string>& argv, const std::string& tmp) {
  if (findInPath(argv[0]).empty()) return "";
  const std::string log = tmp + "/version.txt";
  ::unlink(log.c_str());
  ChildProcess p(argv, {.log_path = log, .pipe_stdio = false});
  if (!p.start() || p.wait(10000) < 0) return "";
  std::string line;
  std::ifstream in(log);
  std::getline(in, line);
  return line;
}

std::string machineDescription() {
  std::string model;
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  ::uname(&u);
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, Linux " +
         u.release;
}

std::string utcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

LoadSpec baseSpec(const Options& o, const std::string& label, int concurrency, double duration) {
  LoadSpec s;
  s.label = label;
  s.concurrency = concurrency;
  s.duration_s = duration;
  s.requests = o.requests;
  s.rate = o.rate;
  s.daemons = o.daemons;
  s.work_ms = o.work_ms;
  s.heartbeat_ms = o.heartbeat_ms;
  s.poll_ms = o.poll_ms;
  s.settle_ms = o.settle_ms;
  s.progress_tty = ::isatty(STDERR_FILENO) != 0;
  return s;
}

bool selected(const Options& o, const std::string& mode) {
  return std::find(o.modes.begin(), o.modes.end(), mode) != o.modes.end();
}

int run(Options o) {
  const std::string self = selfDir();
  if (o.courier_bin.empty()) o.courier_bin = self + "/courier";
  if (o.peers_dir.empty()) {
    o.peers_dir = isDir(self + "/../bench/peers") ? self + "/../bench/peers" : "bench/peers";
  }
  const std::string work_dir = makeTempDir("courier-bench");
  if (work_dir.empty()) {
    std::cerr << "courier-bench: cannot create a temp dir\n";
    return 1;
  }
  // The node inherits the raised limit: idle scale parks thousands of connections on it.
  raiseFdLimit();

  Report report;
  report.command_line = o.command_line;
  report.started_at = utcNow();
  report.machine = machineDescription();
  report.versions = firstLineOf({o.redis_bin, "--version"}, work_dir) + "; libevent " +
                    event_get_version() + "; hiredis " + std::to_string(HIREDIS_MAJOR) + "." +
                    std::to_string(HIREDIS_MINOR) + "." + std::to_string(HIREDIS_PATCH);
  if (selected(o, "nchan")) {
    report.versions += "; " + firstLineOf({o.nginx_bin, "-v"}, work_dir);
  }
  if (selected(o, "bullmq")) {
    report.versions += "; node " + firstLineOf({o.node_bin, "--version"}, work_dir);
  }

  std::cerr << "courier-bench: starting Redis and " << o.nodes << " node(s) (" << o.courier_bin
            << ")\n";
  BenchEnv env;
  std::string why;
  if (!env.start({.courier_bin = o.courier_bin,
                  .redis_bin = o.redis_bin,
                  .nodes = o.nodes,
                  .node_workers = o.node_workers,
                  .work_dir = work_dir},
                 &why)) {
    std::cerr << "courier-bench: setup failed: " << why << "\n";
    if (!o.keep_logs) removeTree(work_dir);
    return 1;
  }

  const auto wake_s = o.wake_duration_s > 0 ? o.wake_duration_s : o.duration_s;
  const auto polling_s = o.polling_duration_s > 0 ? o.polling_duration_s : o.duration_s;
  const std::string c = " c=" + std::to_string(o.concurrency);
  const auto add = [&](RunResult r) {
    if (r.skipped) {
      std::cerr << "courier-bench: " << r.mode << ": " << r.note << "\n";
      report.notes.push_back(r.mode + ": " + r.note);
    }
    report.runs.push_back(std::move(r));
  };
  const std::string node_js = findInPath(o.node_bin);

  for (const auto& mode : o.modes) {
    if (g_interrupted.load()) break;
    if (mode == "courier") {
      add(runCourier(env, baseSpec(o, "courier" + c, o.concurrency, o.duration_s)));
    } else if (mode == "bullmq") {
      if (node_js.empty()) {
        RunResult r;
        r.mode = "bullmq";
        r.label = "bullmq" + c;
        r.note = "skipped: no Node.js (" + o.node_bin + ") in PATH";
        r.skipped = true;
        add(std::move(r));
        continue;
      }
      add(runBullmq(env, baseSpec(o, "bullmq" + c, o.concurrency, o.duration_s), node_js,
                    o.peers_dir, work_dir));
    } else if (mode == "nchan") {
      add(runNchan(env, baseSpec(o, "nchan wake-up" + c, o.concurrency, wake_s),
                   findInPath(o.nginx_bin).empty() ? o.nginx_bin : findInPath(o.nginx_bin),
                   o.nchan_module, o.peers_dir));
      if (g_interrupted.load()) break;
      add(runCourierWake(env, baseSpec(o, "courier wake-up" + c, o.concurrency, wake_s)));
    } else if (mode == "polling") {
      LoadSpec spec = baseSpec(o, "polling" + c, o.concurrency, polling_s);
      spec.label += " hb=" + std::to_string(o.heartbeat_ms / 1000.0).substr(0, 4) + "s";
      add(runPolling(env, spec));
    }
  }

  for (int level : o.sweep) {
    for (const std::string mode : {"courier", "bullmq"}) {
      if (g_interrupted.load() || !selected(o, mode)) continue;
      if (mode == "bullmq" && node_js.empty()) continue;
      LoadSpec spec =
          baseSpec(o, "sweep " + mode + " c=" + std::to_string(level), level, o.sweep_duration_s);
      spec.group = "sweep";
      spec.rate = 0;
      add(mode == "courier" ? runCourier(env, spec)
                            : runBullmq(env, spec, node_js, o.peers_dir, work_dir));
    }
  }

  if (o.idle_claims > 0 && !g_interrupted.load()) {
    report.idle = runIdle(env, o.idle_claims, o.idle_window_s, ::isatty(STDERR_FILENO) != 0);
  }

  if (o.nodes > 1)
    report.notes.push_back("clients spread over " + std::to_string(o.nodes) + " nodes round-robin");
  if (o.keep_logs) report.notes.push_back("logs kept in " + work_dir);

  const std::string table = renderTable(report);
  std::cout << table << std::flush;
  for (const auto& note : writeOutputs(report, o.out_dir, table)) {
    std::cerr << "courier-bench: " << note << "\n";
  }
  std::cerr << "courier-bench: wrote " << o.out_dir << "/table.txt, results.json and plots\n";
  if (!o.keep_logs) removeTree(work_dir);

  if (g_interrupted.load()) return 130;
  // A run that was not skipped but completed nothing means the harness or the system under test
  // is broken: say so in the exit code (CI's smoke test relies on it).
  for (const auto& r : report.runs) {
    if (!r.skipped && r.completed == 0) {
      std::cerr << "courier-bench: " << r.label << " completed no request\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace courier::bench

int main(int argc, char** argv) {
  courier::bench::installInterruptHandlers();
  courier::bench::Options options;
  int exit_code = 0;
  if (!courier::bench::parseOptions(argc, argv, &options, &exit_code)) return exit_code;
  return courier::bench::run(std::move(options));
}
