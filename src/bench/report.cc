#include "courier/bench/report.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "courier/bench/process.h"

namespace courier::bench {
namespace {

std::string fmtMs(double ms) {
  if (ms <= 0) return "0";
  if (ms < 10) return fmtDouble(ms, 3);
  if (ms < 1000) return fmtDouble(ms, 1);
  return fmtDouble(ms, 0);
}

std::string fmtOpt(const std::optional<double>& v, int decimals) {
  return v ? fmtDouble(*v, decimals) : "n/a";
}

std::string ratio(double a, double b) {
  if (b <= 0 || a <= 0) return "n/a";
  const double r = a / b;
  return (r >= 100 ? fmtDouble(r, 0) : r >= 10 ? fmtDouble(r, 1) : fmtDouble(r, 2)) + "x";
}

// Pads to `width` columns, counting UTF-8 code points (the table has arrows and µ).
std::string pad(const std::string& s, size_t width, bool left = false) {
  const size_t columns = static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  if (columns >= width) return s;
  const std::string fill(width - columns, ' ');
  return left ? s + fill : fill + s;
}

std::string errorsText(const ErrorCounts& errors) {
  std::string out;
  for (const auto& [kind, n] : errors) {
    out += (out.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  }
  return out;
}

const RunResult* find(const Report& r, const std::string& mode, const std::string& group) {
  for (const auto& run : r.runs) {
    if (run.mode == mode && run.group == group && !run.skipped && run.completed > 0) return &run;
  }
  return nullptr;
}

// Samples of a CDF, at most ~2000 points: enough for a smooth curve, small files.
void writeCdf(const RunResult& run, const std::string& path) {
  std::ofstream out(path);
  const size_t n = run.sorted_us.size();
  if (n == 0) return;
  const size_t points = std::min<size_t>(n, 2000);
  for (size_t k = 0; k < points; ++k) {
    const size_t i = points == 1 ? n - 1 : k * (n - 1) / (points - 1);
    out << run.sorted_us[i] / 1000.0 << ' ' << static_cast<double>(i + 1) / n << '\n';
  }
}

// One colour per mode in every plot, so the CDF and the sweep read the same way.
std::string colorOf(const std::string& mode) {
  if (mode == "courier") return "#1f5fbf";
  if (mode == "courier-wake") return "#5fa8e8";
  if (mode == "bullmq") return "#d9541e";
  if (mode == "nchan") return "#2f9e44";
  if (mode == "polling") return "#7f7f7f";
  return "#000000";
}

std::string fileSafe(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

void writeJsonRun(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w, const RunResult& r) {
  const auto opt = [&](const char* key, const std::optional<double>& v) {
    w.Key(key);
    if (v) {
      w.Double(*v);
    } else {
      w.Null();
    }
  };
  w.StartObject();
  w.Key("mode");
  w.String(r.mode.c_str());
  w.Key("label");
  w.String(r.label.c_str());
  w.Key("group");
  w.String(r.group.c_str());
  w.Key("skipped");
  w.Bool(r.skipped);
  w.Key("concurrency");
  w.Int(r.concurrency);
  w.Key("elapsed_s");
  w.Double(r.elapsed_s);
  w.Key("completed");
  w.Int64(r.completed);
  w.Key("errors");
  w.StartObject();
  for (const auto& [kind, n] : r.errors) {
    w.Key(kind.c_str());
    w.Int64(n);
  }
  w.EndObject();
  w.Key("throughput_rps");
  w.Double(r.throughput);
  w.Key("latency_ms");
  w.StartObject();
  w.Key("count");
  w.Int64(r.latency.count);
  w.Key("mean");
  w.Double(r.latency.mean_ms);
  w.Key("p50");
  w.Double(r.latency.p50_ms);
  w.Key("p90");
  w.Double(r.latency.p90_ms);
  w.Key("p99");
  w.Double(r.latency.p99_ms);
  w.Key("p99.9");
  w.Double(r.latency.p999_ms);
  w.Key("max");
  w.Double(r.latency.max_ms);
  w.EndObject();
  w.Key("per_request");
  w.StartObject();
  opt("redis_commands", r.redis_calls_per_req);
  opt("redis_script_calls", r.redis_script_per_req);
  opt("redis_other_commands", r.redis_other_per_req);
  opt("redis_cpu_us", r.redis_cpu_us_per_req);
  opt("server_cpu_ms", r.server_cpu_ms_per_req);
  opt("node_redis_roundtrips", r.node_roundtrips_per_req);
  w.EndObject();
  w.Key("cpu_percent_of_one_core");
  w.StartObject();
  w.Key("server");
  w.Double(r.server_cpu_pct);
  w.Key("redis");
  w.Double(r.redis_cpu_pct);
  w.Key("bench_client");
  w.Double(r.client_cpu_pct);
  w.Key("other_processes");
  w.Double(r.other_cpu_pct);
  w.EndObject();
  w.Key("server_is");
  w.String(r.server_what.c_str());
  w.Key("redis_calls_by_command");
  w.StartObject();
  for (const auto& [cmd, n] : r.redis_by_command) {
    w.Key(cmd.c_str());
    w.Int64(n);
  }
  w.EndObject();
  w.Key("note");
  w.String(r.note.c_str());
  w.EndObject();
}

std::string renderJson(const Report& report) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("command");
  w.String(report.command_line.c_str());
  w.Key("machine");
  w.String(report.machine.c_str());
  w.Key("versions");
  w.String(report.versions.c_str());
  w.Key("started_at");
  w.String(report.started_at.c_str());
  w.Key("runs");
  w.StartArray();
  for (const auto& r : report.runs) writeJsonRun(w, r);
  w.EndArray();
  w.Key("idle");
  if (report.idle) {
    const IdleResult& i = *report.idle;
    w.StartObject();
    w.Key("skipped");
    w.Bool(i.skipped);
    w.Key("claims_requested");
    w.Int(i.requested);
    w.Key("claims_parked");
    w.Int(i.parked);
    w.Key("early_replies");
    w.Int64(i.early_replies);
    w.Key("errors");
    w.StartObject();
    for (const auto& [kind, n] : i.errors) {
      w.Key(kind.c_str());
      w.Int64(n);
    }
    w.EndObject();
    w.Key("node_rss_before_kib");
    w.Int64(i.rss_before_kib);
    w.Key("node_rss_parked_kib");
    w.Int64(i.rss_parked_kib);
    w.Key("node_rss_per_parked_claim_kib");
    w.Double(i.rss_per_claim_kib);
    w.Key("redis_connections_of_node_before");
    w.Int64(i.redis_clients_before);
    w.Key("redis_connections_of_node_parked");
    w.Int64(i.redis_clients_parked);
    w.Key("idle_window_s");
    w.Double(i.idle_window_s);
    w.Key("redis_commands_per_s_idle");
    w.Double(i.redis_commands_per_s);
    w.Key("idle_commands");
    w.StartObject();
    for (const auto& [cmd, n] : i.idle_by_command) {
      w.Key(cmd.c_str());
      w.Int64(n);
    }
    w.EndObject();
    w.Key("node_parked_gauge");
    if (i.parked_gauge) {
      w.Double(*i.parked_gauge);
    } else {
      w.Null();
    }
    w.Key("node_cpu_percent_idle");
    w.Double(i.node_cpu_pct);
    w.Key("note");
    w.String(i.note.c_str());
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("notes");
  w.StartArray();
  for (const auto& n : report.notes) w.String(n.c_str());
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

// Latency CDF of the comparison runs, and throughput / p99 against concurrency for the sweep.
std::string gnuplotScript(const Report& report, const std::string& dir,
                          std::vector<std::string>* notes) {
  std::ostringstream gp;
  gp << "set terminal pngcairo size 1000,600 noenhanced font ',10'\n"
     << "set grid\nset key left top\n";
  std::vector<const RunResult*> cdf_runs;
  for (const auto& r : report.runs) {
    if (r.group != "sweep" && !r.skipped && !r.sorted_us.empty()) cdf_runs.push_back(&r);
  }
  if (!cdf_runs.empty()) {
    gp << "set output '" << dir << "/latency_cdf.png'\n"
       << "set title 'End-to-end latency CDF (courier-bench; wake-up runs: event to response)'\n"
       << "set logscale x\nset xlabel 'latency (ms, log scale)'\nset ylabel 'fraction of "
          "requests'\nset yrange [0:1]\nset key right bottom\n"
       << "plot ";
    for (size_t i = 0; i < cdf_runs.size(); ++i) {
      const std::string file = dir + "/cdf_" + fileSafe(cdf_runs[i]->label) + ".dat";
      writeCdf(*cdf_runs[i], file);
      gp << (i > 0 ? ", " : "") << "'" << file << "' using 1:2 with lines lw 2 lc rgb '"
         << colorOf(cdf_runs[i]->mode) << "' title '" << cdf_runs[i]->label << "'";
    }
    gp << "\nunset logscale x\nset yrange [*:*]\nset key left top\n";
  }
  // Sweep: one series per mode.
  std::map<std::string, std::vector<const RunResult*>> sweep;
  for (const auto& r : report.runs) {
    if (r.group == "sweep" && !r.skipped && r.completed > 0) sweep[r.mode].push_back(&r);
  }
  if (!sweep.empty()) {
    for (auto& [mode, runs] : sweep) {
      std::sort(runs.begin(), runs.end(),
                [](const auto* a, const auto* b) { return a->concurrency < b->concurrency; });
      std::ofstream out(dir + "/sweep_" + mode + ".dat");
      out << "# concurrency throughput_rps p99_ms p50_ms\n";
      for (const auto* r : runs) {
        out << r->concurrency << ' ' << r->throughput << ' ' << r->latency.p99_ms << ' '
            << r->latency.p50_ms << '\n';
      }
    }
    gp << "set output '" << dir << "/sweep.png'\n"
       << "set terminal pngcairo size 1200,500 noenhanced font ',10'\n"
       << "set multiplot layout 1,2 title 'Concurrency sweep (same machine, same Redis)'\n"
       << "set logscale x 2\nset xlabel 'requests in flight'\n"
       << "set title 'Throughput'\nset ylabel 'requests/s'\nset yrange [0:*]\nplot ";
    bool first = true;
    for (const auto& [mode, runs] : sweep) {
      gp << (first ? "" : ", ") << "'" << dir << "/sweep_" << mode
         << ".dat' using 1:2 with linespoints lw 2 lc rgb '" << colorOf(mode) << "' title '" << mode
         << "'";
      first = false;
    }
    gp << "\nset title 'p99 latency'\nset ylabel 'ms (log scale)'\nset logscale y\n"
          "set yrange [*:*]\nplot ";
    first = true;
    for (const auto& [mode, runs] : sweep) {
      gp << (first ? "" : ", ") << "'" << dir << "/sweep_" << mode
         << ".dat' using 1:3 with linespoints lw 2 lc rgb '" << colorOf(mode) << "' title '" << mode
         << "'";
      first = false;
    }
    gp << "\nunset multiplot\n";
  } else {
    notes->push_back("no sweep runs: no sweep.png");
  }
  return gp.str();
}

}  // namespace

std::string findInPath(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0 ? program : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const std::string candidate = (d.empty() ? "." : d) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string renderTable(const Report& report) {
  std::ostringstream t;
  t << "courier-bench — " << report.started_at << "\n"
    << "machine: " << report.machine << "\n"
    << "versions: " << report.versions << "\n"
    << "command: " << report.command_line << "\n\n";

  t << "Latency (ms; courier/bullmq/polling: create → terminal record; wake-up runs: report or "
       "publish sent → parked call answered)\n";
  t << pad("run", 24, true) << pad("conc", 6) << pad("done", 9) << pad("errors", 8)
    << pad("req/s", 10) << pad("mean", 9) << pad("p50", 9) << pad("p90", 9) << pad("p99", 9)
    << pad("p99.9", 9) << pad("max", 9) << "\n";
  for (const auto& r : report.runs) {
    if (r.skipped) {
      t << pad(r.label.empty() ? r.mode : r.label, 24, true) << "  " << r.note << "\n";
      continue;
    }
    t << pad(r.label, 24, true) << pad(std::to_string(r.concurrency), 6)
      << pad(std::to_string(r.completed), 9) << pad(std::to_string(totalErrors(r.errors)), 8)
      << pad(fmtDouble(r.throughput, 1), 10) << pad(fmtMs(r.latency.mean_ms), 9)
      << pad(fmtMs(r.latency.p50_ms), 9) << pad(fmtMs(r.latency.p90_ms), 9)
      << pad(fmtMs(r.latency.p99_ms), 9) << pad(fmtMs(r.latency.p999_ms), 9)
      << pad(fmtMs(r.latency.max_ms), 9) << "\n";
  }

  t << "\nCost per completed request (Redis commands from INFO commandstats include those run "
       "inside scripts;\n'scripts' = EVALSHA/EVAL calls; node→Redis = the node's "
       "courier_redis_commands_total; CPU % is of one core)\n";
  t << pad("run", 24, true) << pad("redis cmds", 11) << pad("scripts", 9) << pad("other", 8)
    << pad("redis us", 10) << pad("server ms", 10) << pad("node→Redis", 12)
    << pad("%cpu server/redis/bench/other", 31) << "\n";
  for (const auto& r : report.runs) {
    if (r.skipped) continue;
    t << pad(r.label, 24, true) << pad(fmtOpt(r.redis_calls_per_req, 1), 11)
      << pad(fmtOpt(r.redis_script_per_req, 2), 9) << pad(fmtOpt(r.redis_other_per_req, 1), 8)
      << pad(fmtOpt(r.redis_cpu_us_per_req, 1), 10) << pad(fmtOpt(r.server_cpu_ms_per_req, 3), 10)
      << pad(fmtOpt(r.node_roundtrips_per_req, 2), 12)
      << pad(fmtDouble(r.server_cpu_pct, 0) + "/" + fmtDouble(r.redis_cpu_pct, 0) + "/" +
                 fmtDouble(r.client_cpu_pct, 0) + "/" + fmtDouble(r.other_cpu_pct, 0),
             31)
      << "\n";
  }
  t << "(server = courier node(s) for courier, polling and courier-wake; the BullMQ process — "
       "client and worker in one — for bullmq; nginx for nchan;\n other = the rest of the "
       "machine over the run, from /proc/stat: noise from whatever else runs there)\n";

  // Ratios against Courier in the same run.
  t << "\nRatios (same machine, same Redis, same invocation)\n";
  bool any_ratio = false;
  if (const RunResult* c = find(report, "courier", "main")) {
    if (const RunResult* b = find(report, "bullmq", "main")) {
      t << "  courier throughput / bullmq throughput = " << ratio(c->throughput, b->throughput)
        << "\n  bullmq p99 / courier p99 = " << ratio(b->latency.p99_ms, c->latency.p99_ms)
        << "   bullmq p50 / courier p50 = " << ratio(b->latency.p50_ms, c->latency.p50_ms)
        << "   bullmq mean / courier mean = " << ratio(b->latency.mean_ms, c->latency.mean_ms)
        << "\n";
      any_ratio = true;
    }
    if (const RunResult* p = find(report, "polling", "main")) {
      t << "  polling mean / courier mean = " << ratio(p->latency.mean_ms, c->latency.mean_ms)
        << "   polling p50 / courier p50 = " << ratio(p->latency.p50_ms, c->latency.p50_ms) << "\n";
      any_ratio = true;
    }
  }
  // The polling run offers a few requests a second; Courier's c=32 run is loaded to its limit.
  // At comparable (light) load the factor is against an unloaded Courier: the c=1 sweep point.
  if (const RunResult* p = find(report, "polling", "main")) {
    for (const auto& r : report.runs) {
      if (r.mode == "courier" && r.group == "sweep" && r.concurrency == 1 && r.completed > 0) {
        t << "  polling mean / courier mean at c=1 (light load, like polling's) = "
          << ratio(p->latency.mean_ms, r.latency.mean_ms)
          << "   p50: " << ratio(p->latency.p50_ms, r.latency.p50_ms) << "\n";
        any_ratio = true;
      }
    }
  }
  if (const RunResult* w = find(report, "courier-wake", "main")) {
    if (const RunResult* n = find(report, "nchan", "main")) {
      t << "  wake-up: nchan p50 / courier p50 = " << ratio(n->latency.p50_ms, w->latency.p50_ms)
        << "   nchan p99 / courier p99 = " << ratio(n->latency.p99_ms, w->latency.p99_ms) << "\n";
      any_ratio = true;
    }
  }
  std::set<int> sweep_levels;
  for (const auto& r : report.runs) {
    if (r.group == "sweep") sweep_levels.insert(r.concurrency);
  }
  for (int c : sweep_levels) {
    const RunResult* cr = nullptr;
    const RunResult* br = nullptr;
    for (const auto& r : report.runs) {
      if (r.group != "sweep" || r.concurrency != c || r.skipped || r.completed == 0) continue;
      if (r.mode == "courier") cr = &r;
      if (r.mode == "bullmq") br = &r;
    }
    if (cr && br) {
      t << "  sweep c=" << c
        << ": courier/bullmq throughput = " << ratio(cr->throughput, br->throughput)
        << "   bullmq p99 / courier p99 = " << ratio(br->latency.p99_ms, cr->latency.p99_ms)
        << "\n";
      any_ratio = true;
    }
  }
  if (!any_ratio) t << "  (no pair of runs to compare)\n";

  if (report.idle) {
    const IdleResult& i = *report.idle;
    t << "\nIdle scale (K parked claims on node 0, wait=60, nothing pending)\n";
    if (i.skipped) {
      t << "  skipped: " << i.note << "\n";
    } else {
      t << "  parked " << i.parked << " of " << i.requested
        << " (answered early: " << i.early_replies << ", errors: " << totalErrors(i.errors)
        << (i.errors.empty() ? "" : " — " + errorsText(i.errors)) << ")\n"
        << "  node RSS " << i.rss_before_kib << " KiB → " << i.rss_parked_kib
        << " KiB: " << fmtDouble(i.rss_per_claim_kib, 2) << " KiB per parked claim\n"
        << "  Redis connections held by the node(s): " << i.redis_clients_before << " with K=0, "
        << i.redis_clients_parked << " with K=" << i.parked << "\n"
        << "  Redis commands/s while idle (" << fmtDouble(i.idle_window_s, 1)
        << " s): " << fmtDouble(i.redis_commands_per_s, 2);
      if (!i.idle_by_command.empty()) {
        t << " (";
        bool first = true;
        for (const auto& [cmd, n] : i.idle_by_command) {
          t << (first ? "" : ", ") << cmd << " " << n;
          first = false;
        }
        t << ")";
      }
      t << "\n  node CPU while idle: " << fmtDouble(i.node_cpu_pct, 2) << "% of one core\n";
      if (!i.note.empty()) t << "  note: " << i.note << "\n";
    }
  }

  bool header = false;
  for (const auto& r : report.runs) {
    if (r.skipped || (r.errors.empty() && r.note.empty())) continue;
    if (!header) t << "\nPer-run notes\n";
    header = true;
    t << "  " << r.label << ": ";
    if (!r.errors.empty()) t << "errors: " << errorsText(r.errors) << ". ";
    t << r.note << "\n";
  }
  if (!report.notes.empty()) {
    t << "\nNotes\n";
    for (const auto& n : report.notes) t << "  " << n << "\n";
  }
  return t.str();
}

std::vector<std::string> writeOutputs(const Report& report, const std::string& dir,
                                      const std::string& table) {
  std::vector<std::string> notes;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    notes.push_back("cannot create " + dir + ": " + ec.message());
    return notes;
  }
  std::ofstream(dir + "/table.txt") << table;
  std::ofstream(dir + "/results.json") << renderJson(report);

  const std::string gnuplot = findInPath("gnuplot");
  if (gnuplot.empty()) {
    notes.push_back("gnuplot not found (apt-get install gnuplot-nox): no plots");
    return notes;
  }
  const std::string script_path = dir + "/plots.gp";
  std::ofstream(script_path) << gnuplotScript(report, dir, &notes);
  ChildProcess gp({gnuplot, script_path},
                  ChildProcess::Options{.log_path = dir + "/gnuplot.log", .pipe_stdio = false});
  if (!gp.start() || gp.wait(60000) != 0) {
    notes.push_back("gnuplot failed: see " + dir + "/gnuplot.log");
  }
  return notes;
}

}  // namespace courier::bench
