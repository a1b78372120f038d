// A running Courier for integration tests: a private redis-server, N real node processes on
// loopback, and helpers that set up a tenant (workspace, user and daemon tokens, runtimes) over
// the real HTTP API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/node_process.h"
#include "support/redis_server.h"

namespace courier::testing {

struct Tenant {
  std::string workspace;
  std::string user_id;
  std::string user_token;
  std::string daemon_token;
};

class Harness {
 public:
  static constexpr const char* kAdminToken = "test-admin-token";

  // Starts Redis and `nodes` nodes, each with `args` (e.g. --kinds overrides).
  explicit Harness(int nodes = 1, std::vector<std::string> args = {},
                   RedisServer::Options redis_options = {});
  // Stops every node still running with SIGTERM and checks, for every node, that it exited 0
  // and that its log has no sanitizer report: every test also checks a clean shutdown.
  ~Harness();

  RedisServer& redis() { return redis_; }
  NodeProcess& node(int i = 0) { return *nodes_.at(i); }
  int nodeCount() const { return static_cast<int>(nodes_.size()); }
  // Adds and starts one more node with the same arguments.
  NodeProcess& addNode();
  int port(int i = 0) { return nodes_.at(i)->port(); }

  // A workspace with a user token (user `user_id`) and a daemon token.
  Tenant tenant(const std::string& user_id = "alice");
  // Registers runtime `rt` (owned by the tenant's user) and marks it online with one claim.
  void runtime(const Tenant& t, const std::string& rt, int node = 0);
  // Another user token in the same workspace.
  std::string userToken(const Tenant& t, const std::string& user_id);

  // POST a request; returns the parsed record (asserts 201).
  std::string create(const Tenant& t, const std::string& rt, const std::string& kind = "ping",
                     const std::string& payload = "{}", int node = 0);

 private:
  RedisServer redis_;
  std::vector<std::string> args_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

// {"Authorization": "Bearer …"} and the consumer header, as a header list.
Headers auth(const std::string& token);
Headers daemonHeaders(const std::string& token, const std::string& consumer);

// A field of a JSON body as text ("" if absent); numbers as decimal.
std::string field(const HttpResponse& r, const char* name);

// The value of a sample in Prometheus text ("name 3", or name with its labels), or -1.
double metricValue(const std::string& text, const std::string& name);

}  // namespace courier::testing
