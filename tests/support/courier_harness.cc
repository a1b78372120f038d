#include "support/courier_harness.h"

#include <gtest/gtest.h>

#include <sstream>

namespace courier::testing {

Headers auth(const std::string& token) { return {bearer(token)}; }

Headers daemonHeaders(const std::string& token, const std::string& consumer) {
  return {bearer(token), {"X-Courier-Consumer", consumer}};
}

std::string field(const HttpResponse& r, const char* name) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) return "";
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd()) return "";
  if (it->value.IsString()) return it->value.GetString();
  if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  if (it->value.IsBool()) return it->value.GetBool() ? "true" : "false";
  if (it->value.IsNull()) return "null";
  return "<complex>";
}

Harness::Harness(int nodes, std::vector<std::string> args, RedisServer::Options redis_options)
    : redis_(std::move(redis_options)), args_(std::move(args)) {
  redis_.start();
  for (int i = 0; i < nodes; ++i) addNode();
}

Harness::~Harness() {
  for (auto& node : nodes_) {
    if (node->running()) {
      int rc = node->terminate(10000);
      EXPECT_EQ(rc, 0) << "node did not exit cleanly on SIGTERM; its log:\n" << node->log();
    }
    std::string log = node->log();
    for (const char* bad :
         {"AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"}) {
      EXPECT_EQ(log.find(bad), std::string::npos) << "sanitizer report in a node's log:\n" << log;
    }
  }
}

NodeProcess& Harness::addNode() {
  std::vector<std::string> args = {
      "--redis-url", redis_.url(), "--admin-token", kAdminToken,
      "--workers",   "1",          "--node-id",     "node" + std::to_string(nodes_.size())};
  args.insert(args.end(), args_.begin(), args_.end());
  nodes_.push_back(std::make_unique<NodeProcess>(args));
  EXPECT_TRUE(nodes_.back()->start());
  return *nodes_.back();
}

Tenant Harness::tenant(const std::string& user_id) {
  HttpClient admin(port());
  Tenant t;
  t.user_id = user_id;
  auto ws = admin.post("/api/admin/workspaces", R"({"name":"test"})", auth(kAdminToken));
  EXPECT_EQ(ws.status, 201) << ws.body;
  t.workspace = field(ws, "id");
  auto user = admin.post("/api/admin/workspaces/" + t.workspace + "/tokens",
                         R"({"kind":"user","user_id":")" + user_id + "\"}", auth(kAdminToken));
  EXPECT_EQ(user.status, 201) << user.body;
  t.user_token = field(user, "token");
  auto daemon = admin.post("/api/admin/workspaces/" + t.workspace + "/tokens",
                           R"({"kind":"daemon"})", auth(kAdminToken));
  EXPECT_EQ(daemon.status, 201) << daemon.body;
  t.daemon_token = field(daemon, "token");
  return t;
}

std::string Harness::userToken(const Tenant& t, const std::string& user_id) {
  HttpClient admin(port());
  auto user = admin.post("/api/admin/workspaces/" + t.workspace + "/tokens",
                         R"({"kind":"user","user_id":")" + user_id + "\"}", auth(kAdminToken));
  EXPECT_EQ(user.status, 201) << user.body;
  return field(user, "token");
}

void Harness::runtime(const Tenant& t, const std::string& rt, int node) {
  HttpClient c(port(node));
  auto reg = c.post("/api/daemon/runtimes",
                    R"({"id":")" + rt + R"(","name":"Runtime )" + rt + R"(","provider":"test",)" +
                        R"("owner_user_id":")" + t.user_id + "\"}",
                    auth(t.daemon_token));
  EXPECT_TRUE(reg.status == 201 || reg.status == 200) << reg.body;
  auto claim = c.post("/api/daemon/claim", R"({"runtime_ids":[")" + rt + R"("],"wait":0})",
                      daemonHeaders(t.daemon_token, "warmup"));
  EXPECT_EQ(claim.status, 200) << claim.body;
}

std::string Harness::create(const Tenant& t, const std::string& rt, const std::string& kind,
                            const std::string& payload, int node) {
  HttpClient c(port(node));
  auto r = c.post("/api/runtimes/" + rt + "/requests",
                  R"({"kind":")" + kind + R"(","payload":)" + payload + "}", auth(t.user_token));
  EXPECT_EQ(r.status, 201) << r.body;
  return field(r, "id");
}

double metricValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace courier::testing
