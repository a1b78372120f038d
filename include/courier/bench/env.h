// The system under test as courier-bench sets it up: one private Redis, N courier nodes on it,
// a workspace with a user token and a daemon token; and the meter that reads what a run cost.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "courier/bench/common.h"
#include "courier/bench/http_client.h"
#include "courier/bench/process.h"
#include "courier/bench/redis_probe.h"
#include "courier/bench/stats.h"

namespace courier::bench {

struct EnvOptions {
  std::string courier_bin;
  std::string redis_bin = "redis-server";
  int nodes = 1;
  int node_workers = 1;
  std::string work_dir;  // logs go here
};

class BenchEnv {
 public:
  BenchEnv() = default;
  ~BenchEnv();
  BenchEnv(const BenchEnv&) = delete;
  BenchEnv& operator=(const BenchEnv&) = delete;

  // Starts Redis and the nodes, creates the workspace and tokens. On failure `why` says what.
  bool start(const EnvOptions& options, std::string* why);

  const Endpoint& redis() const { return redis_->endpoint(); }
  std::string redisUrl() const { return redis_->url(); }
  pid_t redisPid() const { return redis_->pid(); }
  const std::vector<Endpoint>& nodes() const { return node_endpoints_; }
  std::vector<pid_t> nodePids() const;
  const Endpoint& node(size_t i) const { return node_endpoints_[i % node_endpoints_.size()]; }
  RedisProbe& probe() { return *probe_; }

  const std::string& userToken() const { return user_token_; }
  const std::string& daemonToken() const { return daemon_token_; }
  const std::string& userId() const { return user_id_; }

  Headers userHeaders() const { return {{"Authorization", "Bearer " + user_token_}}; }
  Headers daemonHeaders() const { return {{"Authorization", "Bearer " + daemon_token_}}; }

  // Registers runtimes (owned by the bench user) and marks them online with one empty claim.
  bool registerRuntimes(const std::vector<std::string>& ids, std::string* why);

  // Sums a counter or gauge over every node's GET /metrics (all label sets of `name`, or only
  // lines starting with `name_with_labels` when it has a '{'). nullopt if no node exposes it.
  std::optional<double> scrapeMetric(const std::string& name);

  // True if the node knows a route (anything but 404 "no route" to an unauthenticated probe).
  bool nodeHasRoute(const std::string& method, const std::string& path);

  std::string nodeLogs() const;

 private:
  std::unique_ptr<RedisProcess> redis_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<Endpoint> node_endpoints_;
  std::unique_ptr<RedisProbe> probe_;
  std::string admin_token_;
  std::string user_token_;
  std::string daemon_token_;
  std::string user_id_ = "bench-user";
  std::string workspace_id_;
};

// Reads what a run cost: Redis commands and CPU, the server processes' CPU, the node's own count
// of Redis commands, and this process's CPU. begin() before the load starts, end() once it
// drained, then fill() a result (per completed request).
class CostMeter {
 public:
  CostMeter(BenchEnv& env, std::vector<pid_t> server_pids, bool scrape_node);
  void begin();
  void end();
  void fill(RunResult& result) const;

  // For runs whose server CPU is reported by the peer itself (BullMQ's process.cpuUsage()).
  void setServerCpuUs(int64_t us) { server_cpu_override_us_ = us; }

 private:
  struct Snapshot {
    std::optional<RedisSnapshot> redis;
    int64_t probe_commands = 0;
    int64_t server_cpu_us = 0;
    int64_t self_cpu_us = 0;
    int64_t machine_busy_us = 0;
    std::optional<double> node_commands;
    int64_t t_ns = 0;
  };
  Snapshot take();

  BenchEnv& env_;
  std::vector<pid_t> server_pids_;
  bool scrape_node_;
  Snapshot before_;
  Snapshot after_;
  std::optional<int64_t> server_cpu_override_us_;
};

}  // namespace courier::bench
