// bullmq mode: BullMQ (PEERS/bullmq/bench.mjs, a Node.js child) on the same Redis, at the same
// concurrency, doing the same trivial job. The child is client and worker in one process, so
// its CPU is reported as the "server" CPU of this mode.

#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "courier/bench/load.h"
#include "courier/bench/process.h"

namespace courier::bench {
namespace {

RunResult skipped(const std::string& why) {
  RunResult r;
  r.mode = "bullmq";
  r.skipped = true;
  r.note = "skipped: " + why;
  return r;
}

int g_run_counter = 0;

}  // namespace

RunResult runBullmq(BenchEnv& env, const LoadSpec& spec, const std::string& node_bin,
                    const std::string& peers_dir, const std::string& work_dir) {
  const std::string dir = peers_dir + "/bullmq";
  if (::access((dir + "/bench.mjs").c_str(), R_OK) != 0) {
    return skipped("no " + dir + "/bench.mjs");
  }
  if (::access((dir + "/node_modules/bullmq/package.json").c_str(), R_OK) != 0) {
    return skipped("BullMQ is not installed: run scripts/bench-deps (npm ci in " + dir + ")");
  }
  // BullMQ refuses to run on a Redis that may evict its keys.
  env.probe().command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});

  std::vector<std::string> argv{
      node_bin,
      dir + "/bench.mjs",
      "--redis",
      env.redisUrl(),
      "--concurrency",
      std::to_string(spec.concurrency),
      "--queue",
      "courier-bench-" + std::to_string(::getpid()) + "-" + std::to_string(++g_run_counter)};
  if (spec.requests > 0) {
    argv.insert(argv.end(), {"--requests", std::to_string(spec.requests)});
  } else {
    argv.insert(argv.end(), {"--duration", std::to_string(spec.duration_s)});
  }
  if (spec.work_ms > 0) argv.insert(argv.end(), {"--work-ms", std::to_string(spec.work_ms)});
  ChildProcess child(argv,
                     {.log_path = work_dir + "/bullmq-" + std::to_string(g_run_counter) + ".log",
                      .pipe_stdio = true});
  if (!child.start()) return skipped("cannot run " + node_bin + ": " + child.error());

  const auto ready = child.readLine(30'000);
  if (!ready || ready->find("\"ready\"") == std::string::npos) {
    child.terminate(5000);
    return skipped("bench.mjs did not get ready: " + child.log());
  }

  CostMeter meter(env, {}, /*scrape_node=*/false);
  meter.begin();
  child.writeStdin("go\n");
  const int64_t t0 = nowNs();
  const double limit_s = (spec.requests > 0 ? 600 : spec.duration_s) + 60;
  std::string result_line;
  int64_t last_completed = 0;
  int64_t last_ns = t0;
  while (!g_interrupted.load()) {
    const double left_s = limit_s - static_cast<double>(nowNs() - t0) / 1e9;
    if (left_s <= 0) break;
    const auto line = child.readLine(static_cast<int>(left_s * 1000));
    if (!line) break;
    if (line->find("\"event\":\"result\"") != std::string::npos) {
      result_line = *line;
      break;
    }
    rapidjson::Document doc;
    doc.Parse(line->data(), line->size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("completed")) continue;
    if (!doc["completed"].IsInt64()) continue;
    const int64_t completed = doc["completed"].GetInt64();
    const int64_t now = nowNs();
    std::fprintf(stderr, "%s[%s] running %5.1fs  completed %lld  %.0f req/s%s",
                 spec.progress_tty ? "\r\033[K" : "", spec.label.c_str(),
                 static_cast<double>(now - t0) / 1e9, static_cast<long long>(completed),
                 static_cast<double>(completed - last_completed) /
                     (static_cast<double>(now - last_ns) / 1e9),
                 spec.progress_tty ? "" : "\n");
    last_completed = completed;
    last_ns = now;
  }
  meter.end();
  if (result_line.empty()) {
    child.terminate(5000);
    return skipped(g_interrupted.load() ? "interrupted"
                                        : "no result from bench.mjs: " + child.log());
  }

  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(result_line.data(), result_line.size());
  const auto has = [&](const char* key, bool (rapidjson::Value::*is)() const) {
    return doc.HasMember(key) && (doc[key].*is)();
  };
  if (doc.HasParseError() || !doc.IsObject() || !has("latencies_us", &rapidjson::Value::IsArray) ||
      !has("completed", &rapidjson::Value::IsInt64) ||
      !has("elapsed_s", &rapidjson::Value::IsNumber) ||
      !has("errors", &rapidjson::Value::IsObject) ||
      !has("cpu_user_us", &rapidjson::Value::IsInt64) ||
      !has("cpu_system_us", &rapidjson::Value::IsInt64)) {
    child.terminate(5000);
    return skipped("unreadable result from bench.mjs");
  }
  RunResult result;
  result.mode = "bullmq";
  result.label = spec.label;
  result.group = spec.group;
  result.concurrency = spec.concurrency;
  result.server_what = "BullMQ process (client + worker)";
  result.completed = doc["completed"].GetInt64();
  result.elapsed_s = doc["elapsed_s"].GetDouble();
  result.throughput =
      result.elapsed_s > 0 ? static_cast<double>(result.completed) / result.elapsed_s : 0;
  for (const auto& e : doc["errors"].GetObject()) {
    if (e.value.IsInt64()) result.errors[e.name.GetString()] = e.value.GetInt64();
  }
  LatencyRecorder rec;
  for (const auto& v : doc["latencies_us"].GetArray()) {
    if (v.IsUint()) rec.addUs(v.GetUint());
  }
  result.sorted_us = rec.takeSorted();
  result.latency = summarize(result.sorted_us);
  meter.setServerCpuUs(doc["cpu_user_us"].GetInt64() + doc["cpu_system_us"].GetInt64());
  meter.fill(result);
  if (doc.HasMember("bullmq_version") && doc["bullmq_version"].IsString()) {
    result.note += std::string("bullmq ") + doc["bullmq_version"].GetString() + ". ";
  }
  if (has("dropped_samples", &rapidjson::Value::IsInt64) && doc["dropped_samples"].GetInt64() > 0) {
    result.note += "latency samples capped. ";
  }
  std::fprintf(stderr, "%s[%s] done %5.1fs  completed %lld\n", spec.progress_tty ? "\r\033[K" : "",
               spec.label.c_str(), result.elapsed_s, static_cast<long long>(result.completed));
  if (child.wait(15000) != 0) child.terminate(5000);
  return result;
}

}  // namespace courier::bench
