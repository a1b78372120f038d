#include "courier/bench/env.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "courier/util/ids.h"

namespace courier::bench {
namespace {

// A field of a JSON object body as a string ("" if absent).
std::string jsonField(const std::string& body, const char* name) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return "";
  const auto it = doc.FindMember(name);
  return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

std::string describe(const HttpResponse& r) {
  if (r.status == 0) return r.failure == Failure::kTimeout ? "timed out" : "connection failed";
  return "HTTP " + std::to_string(r.status) + " " + r.body;
}

}  // namespace

BenchEnv::~BenchEnv() {
  // Nodes first: they hold connections to Redis.
  nodes_.clear();
  probe_.reset();
  redis_.reset();
}

bool BenchEnv::start(const EnvOptions& options, std::string* why) {
  redis_ = std::make_unique<RedisProcess>(options.redis_bin);
  if (!redis_->start(why)) return false;
  probe_ = std::make_unique<RedisProbe>(redis_->endpoint());

  admin_token_ = "bench-admin-" + randomId();
  for (int i = 0; i < options.nodes; ++i) {
    auto node = std::make_unique<NodeProcess>(
        options.courier_bin, redis_->url(), admin_token_, options.node_workers,
        options.work_dir + "/node-" + std::to_string(i) + ".log");
    if (!node->start(why)) return false;
    node_endpoints_.push_back(node->endpoint());
    nodes_.push_back(std::move(node));
  }

  const Headers admin{{"Authorization", "Bearer " + admin_token_}};
  HttpResponse r = fetchSync(node(0), EVHTTP_REQ_POST, "/api/admin/workspaces",
                             R"({"name":"courier-bench"})", admin);
  workspace_id_ = jsonField(r.body, "id");
  if (r.status != 201 || workspace_id_.empty()) {
    *why = "create workspace: " + describe(r);
    return false;
  }
  const std::string tokens = "/api/admin/workspaces/" + workspace_id_ + "/tokens";
  r = fetchSync(node(0), EVHTTP_REQ_POST, tokens,
                R"({"kind":"user","user_id":")" + user_id_ + R"("})", admin);
  user_token_ = jsonField(r.body, "token");
  if (r.status != 201 || user_token_.empty()) {
    *why = "create user token: " + describe(r);
    return false;
  }
  r = fetchSync(node(0), EVHTTP_REQ_POST, tokens, R"({"kind":"daemon"})", admin);
  daemon_token_ = jsonField(r.body, "token");
  if (r.status != 201 || daemon_token_.empty()) {
    *why = "create daemon token: " + describe(r);
    return false;
  }
  return true;
}

std::vector<pid_t> BenchEnv::nodePids() const {
  std::vector<pid_t> out;
  for (const auto& n : nodes_) out.push_back(n->pid());
  return out;
}

bool BenchEnv::registerRuntimes(const std::vector<std::string>& ids, std::string* why) {
  const Headers daemon = daemonHeaders();
  for (const auto& id : ids) {
    const HttpResponse r =
        fetchSync(node(0), EVHTTP_REQ_POST, "/api/daemon/runtimes",
                  R"({"id":")" + id + R"(","name":")" + id +
                      R"(","provider":"bench","owner_user_id":")" + user_id_ + R"("})",
                  daemon);
    if (r.status != 201 && r.status != 200) {
      *why = "register runtime " + id + ": " + describe(r);
      return false;
    }
  }
  // One claim over all of them marks them online (a runtime is offline until its first claim);
  // nothing is pending yet, so it returns empty at once.
  for (size_t at = 0; at < ids.size(); at += 100) {
    std::string body = R"({"runtime_ids":[)";
    for (size_t i = at; i < ids.size() && i < at + 100; ++i) {
      body += (i > at ? ",\"" : "\"") + ids[i] + "\"";
    }
    body += R"(],"max":1,"wait":0})";
    Headers headers = daemon;
    headers.emplace_back("X-Courier-Consumer", "bench-setup");
    const HttpResponse r = fetchSync(node(0), EVHTTP_REQ_POST, "/api/daemon/claim", body, headers);
    if (r.status != 200) {
      *why = "first claim: " + describe(r);
      return false;
    }
  }
  return true;
}

std::optional<double> BenchEnv::scrapeMetric(const std::string& name) {
  std::optional<double> total;
  for (const auto& ep : node_endpoints_) {
    const HttpResponse r = fetchSync(ep, EVHTTP_REQ_GET, "/metrics", {}, {}, 5);
    if (r.status != 200) continue;
    std::istringstream lines(r.body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
      const char next = line.size() > name.size() ? line[name.size()] : '\0';
      // "name{...} v" or "name v", but not "name_bucket ..." of a longer metric.
      if (name.find('{') == std::string::npos && next != '{' && next != ' ') continue;
      const size_t space = line.rfind(' ');
      if (space == std::string::npos) continue;
      total = total.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
    }
  }
  return total;
}

bool BenchEnv::nodeHasRoute(const std::string& method, const std::string& path) {
  // The router answers an unknown route 404 before it looks at the token, and a known one 401
  // without a token.
  const HttpResponse r = fetchSync(node(0), method == "GET" ? EVHTTP_REQ_GET : EVHTTP_REQ_POST,
                                   path, method == "GET" ? "" : "{}", {}, 5);
  return r.status != 0 && r.status != 404;
}

std::string BenchEnv::nodeLogs() const {
  std::string out;
  for (const auto& n : nodes_) out += n->log();
  return out;
}

CostMeter::CostMeter(BenchEnv& env, std::vector<pid_t> server_pids, bool scrape_node)
    : env_(env), server_pids_(std::move(server_pids)), scrape_node_(scrape_node) {}

CostMeter::Snapshot CostMeter::take() {
  Snapshot s;
  // A /metrics scrape costs the node a fraction of a millisecond of CPU and no Redis command:
  // noise next to a run.
  if (scrape_node_) s.node_commands = env_.scrapeMetric("courier_redis_commands_total");
  for (pid_t pid : server_pids_) {
    const int64_t us = processCpuUs(pid);
    if (us > 0) s.server_cpu_us += us;
  }
  s.redis = env_.probe().snapshot();
  s.probe_commands = env_.probe().ownCommands();
  s.self_cpu_us = selfCpuUs();
  s.machine_busy_us = machineBusyCpuUs();
  s.t_ns = nowNs();
  return s;
}

void CostMeter::begin() { before_ = take(); }
void CostMeter::end() { after_ = take(); }

void CostMeter::fill(RunResult& result) const {
  const double n = static_cast<double>(result.completed);
  const double window_s = static_cast<double>(after_.t_ns - before_.t_ns) / 1e9;
  if (before_.redis && after_.redis) {
    const RedisDelta d =
        diff(*before_.redis, *after_.redis, after_.probe_commands - before_.probe_commands);
    if (n > 0) {
      result.redis_calls_per_req = static_cast<double>(d.calls) / n;
      result.redis_script_per_req = static_cast<double>(d.script_calls) / n;
      result.redis_other_per_req = static_cast<double>(d.calls - d.script_calls) / n;
      result.redis_cpu_us_per_req = static_cast<double>(d.cpu_us) / n;
    }
    if (window_s > 0) result.redis_cpu_pct = 100.0 * static_cast<double>(d.cpu_us) / 1e6 / window_s;
    result.redis_by_command = d.by_command;
  }
  const int64_t server_us =
      server_cpu_override_us_.value_or(after_.server_cpu_us - before_.server_cpu_us);
  if (n > 0 && (!server_pids_.empty() || server_cpu_override_us_)) {
    result.server_cpu_ms_per_req = static_cast<double>(server_us) / 1000.0 / n;
  }
  if (window_s > 0) {
    result.server_cpu_pct = 100.0 * static_cast<double>(server_us) / 1e6 / window_s;
    result.client_cpu_pct =
        100.0 * static_cast<double>(after_.self_cpu_us - before_.self_cpu_us) / 1e6 / window_s;
    const double machine_pct =
        100.0 * static_cast<double>(after_.machine_busy_us - before_.machine_busy_us) / 1e6 /
        window_s;
    result.other_cpu_pct = std::max(
        0.0, machine_pct - result.server_cpu_pct - result.redis_cpu_pct - result.client_cpu_pct);
  }
  if (n > 0 && before_.node_commands && after_.node_commands) {
    result.node_roundtrips_per_req = (*after_.node_commands - *before_.node_commands) / n;
  }
}

}  // namespace courier::bench
