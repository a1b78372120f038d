// Running Courier like production: scripts/cluster (Redis + nodes + HAProxy) with a round trip
// through HAProxy, a node with --workers 2 whose two loops both serve, JSON logs, and the flags
// (help, and bad values that stop the node at start). Real processes over loopback throughout.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kAdmin = "ops-admin-token";

// Polls `done` every 20 ms until it holds or `timeout` passed; returns done(). A bounded wait,
// not a timing assertion: the bound is generous.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string courierBinary() {
  const char* build = std::getenv("COURIER_BUILD");
  return std::string(build != nullptr && *build != '\0' ? build : "build") + "/courier";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A private temp dir, removed with the object.
struct TempDir {
  std::string path = makeTempDir("courier-ops");
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

// The value of one sample of a Prometheus text exposition, e.g.
// `courier_parked{type="claim"}`; -1 if absent.
double sample(const std::string& text, const std::string& name) {
  for (const auto& line : lines(text)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return -1;
}

double parked(int port, const std::string& type) {
  HttpClient c(port);
  c.setTimeoutMs(5000);
  return sample(c.get("/metrics").body, "courier_parked{type=\"" + type + "\"}");
}

std::string rawPost(const std::string& target, const std::string& body, const Headers& headers) {
  std::string out = "POST " + target + " HTTP/1.1\r\nHost: x\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  return out + "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string rawGet(const std::string& target, const Headers& headers) {
  std::string out = "GET " + target + " HTTP/1.1\r\nHost: x\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  return out + "\r\n";
}

std::string claimBody(const std::string& rt, int wait) {
  return R"({"runtime_ids":[")" + rt + R"("],"wait":)" + std::to_string(wait) + "}";
}

// The ids of the requests in a claim response.
std::vector<std::string> claimedIds(const HttpResponse& r) {
  std::vector<std::string> out;
  auto doc = r.json();
  if (!doc.IsObject() || !doc.HasMember("requests") || !doc["requests"].IsArray()) return out;
  for (const auto& v : doc["requests"].GetArray()) out.push_back(v["id"].GetString());
  return out;
}

// The TCP sockets process `pid` holds: local port → socket states (hex, "0A" = LISTEN), from
// /proc/PID/fd (socket inodes) and /proc/net/tcp{,6} (inode → local port and state).
std::multimap<int, std::string> tcpSocketsOf(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::string target = fs::read_symlink(fd.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::multimap<int, std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    auto rows = lines(readFile(table));
    for (size_t i = 1; i < rows.size(); ++i) {
      std::istringstream row(rows[i]);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      row >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (inodes.count(inode) == 0) continue;
      out.emplace(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16), state);
    }
  }
  return out;
}

struct RedisClient {
  int port = 0;
  int sub = 0;  // channels subscribed
};

// The clients of `redis` connected from one of `local_ports` (CLIENT LIST's addr=IP:PORT).
std::vector<RedisClient> redisClientsFrom(RedisServer& redis,
                                          const std::multimap<int, std::string>& local_ports) {
  std::vector<RedisClient> out;
  static const std::regex kAddr(R"(\baddr=[^ ]*:(\d+) )");
  static const std::regex kSub(R"(\bsub=(\d+)\b)");
  for (const auto& line : lines(redis.cmd({"CLIENT", "LIST"}))) {
    std::smatch addr, sub;
    if (!std::regex_search(line, addr, kAddr)) continue;
    RedisClient c{std::stoi(addr[1]), 0};
    if (local_ports.count(c.port) == 0) continue;
    if (std::regex_search(line, sub, kSub)) c.sub = std::stoi(sub[1]);
    out.push_back(c);
  }
  return out;
}

// --- scripts/cluster ---------------------------------------------------------------------------

bool haproxyInstalled() {
  return ::access("/usr/sbin/haproxy", X_OK) == 0 ||
         std::system("command -v haproxy >/dev/null") == 0;
}

// The process command line (NULs as spaces), "" once it is gone.
std::string cmdline(pid_t pid) {
  std::string s = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : s) {
    if (c == '\0') c = ' ';
  }
  return s;
}

// scripts/cluster --nodes 2 with a given admin token: it prints one `cluster ready at` line; a full
// round trip through HAProxy works (admin, runtime registration, a claim parked through HAProxy
// and woken by a create through HAProxy, a report, a GET parked through HAProxy that sees the
// result); both nodes serve behind HAProxy; SIGTERM stops the script (exit 0), every process it
// started and removes its temp dir.
TEST(Ops, ClusterScriptServesARoundTripThroughHaproxyAndStopsEverything) {
  ASSERT_TRUE(fs::exists("scripts/cluster")) << "run the tests from the repository root";
  TempDir dir;
  {
    // Installs HAProxy if missing (CI runs as root with apt). Bounded: apt may be slow.
    ChildProcess deps({"scripts/cluster-deps"}, {}, dir.path + "/deps.log");
    ASSERT_TRUE(deps.start()) << deps.lastError();
    int rc = deps.wait(600000);
    if (rc != 0 && !haproxyInstalled()) {
      GTEST_SKIP() << "HAProxy is not installed and scripts/cluster-deps could not install it "
                   << "(exit " << rc << "):\n"
                   << deps.log();
    }
  }

  const std::string token = "cluster-admin-token";
  ChildProcess cluster({"scripts/cluster", "--nodes", "2"}, {{"COURIER_ADMIN_TOKEN", token}},
                       dir.path + "/cluster.log");
  ASSERT_TRUE(cluster.start()) << cluster.lastError();
  // On an early return, stop it gracefully so that it removes its temp dir (the destructor's
  // SIGKILL would leave it; its children would still stop, by their parent-death signal).
  struct StopOnExit {
    ChildProcess& child;
    ~StopOnExit() { child.terminate(60000); }
  } stop_on_exit{cluster};
  static const std::regex kReady(R"(cluster ready at http://127\.0\.0\.1:(\d+)\n)");
  std::smatch m;
  std::string log;
  bool ready = eventually(
      [&] {
        log = cluster.log();
        return std::regex_search(log, m, kReady) || !cluster.running();
      },
      180s);
  ASSERT_TRUE(ready && std::regex_search(log, m, kReady))
      << (cluster.running() ? "not ready after 180 s" : "scripts/cluster exited") << "\n"
      << log;
  const int port = std::stoi(m[1]);

  // What it started: "<name> pid N at 127.0.0.1:PORT", and where its files are.
  std::map<std::string, std::pair<pid_t, int>> procs;
  static const std::regex kProc(
      R"((redis-server|node\d+|haproxy) pid (\d+) at 127\.0\.0\.1:(\d+))");
  for (std::sregex_iterator it(log.begin(), log.end(), kProc), end; it != end; ++it) {
    procs[(*it)[1]] = {std::stoi((*it)[2]), std::stoi((*it)[3])};
  }
  static const std::regex kDir(R"(logs and data in (\S+))");
  std::smatch dm;
  ASSERT_TRUE(std::regex_search(log, dm, kDir)) << log;
  const std::string cluster_dir = dm[1];
  ASSERT_EQ(procs.size(), 4u) << log;  // redis-server, node0, node1, haproxy
  EXPECT_EQ(procs.at("haproxy").second, port);
  std::map<pid_t, std::string> cmdlines;
  for (const auto& [name, pp] : procs) {
    cmdlines[pp.first] = cmdline(pp.first);
    EXPECT_NE(cmdlines[pp.first], "") << name << " (pid " << pp.first << ") is not running";
  }
  EXPECT_EQ(log.find("admin token:"), std::string::npos) << "the token came from the environment";
  {
    size_t n = 0;
    for (size_t at = log.find("cluster ready at"); at != std::string::npos;
         at = log.find("cluster ready at", at + 1)) {
      ++n;
    }
    EXPECT_EQ(n, 1u) << log;
  }

  // Both nodes answer behind HAProxy (it names the server that answered).
  HttpClient c(port);
  std::set<std::string> served_by;
  for (int i = 0; i < 6; ++i) {
    auto r = c.get("/readyz");
    ASSERT_EQ(r.status, 200) << r.body;
    served_by.insert(r.header("X-Courier-Server").value_or("?"));
  }
  EXPECT_EQ(served_by, (std::set<std::string>{"node0", "node1"}));

  // Admin: a workspace, a user token and a daemon token.
  auto ws = c.post("/api/admin/workspaces", R"({"name":"ops"})", auth(token));
  ASSERT_EQ(ws.status, 201) << ws.body;
  const std::string wsid = field(ws, "id");
  auto user = c.post("/api/admin/workspaces/" + wsid + "/tokens",
                     R"({"kind":"user","user_id":"alice"})", auth(token));
  ASSERT_EQ(user.status, 201) << user.body;
  auto daemon =
      c.post("/api/admin/workspaces/" + wsid + "/tokens", R"({"kind":"daemon"})", auth(token));
  ASSERT_EQ(daemon.status, 201) << daemon.body;
  const std::string user_token = field(user, "token"), daemon_token = field(daemon, "token");

  // The daemon registers its runtime and comes online.
  auto reg = c.post("/api/daemon/runtimes",
                    R"({"id":"rt1","name":"Runtime 1","provider":"test","owner_user_id":"alice"})",
                    auth(daemon_token));
  ASSERT_EQ(reg.status, 201) << reg.body;
  ASSERT_EQ(
      c.post("/api/daemon/claim", claimBody("rt1", 0), daemonHeaders(daemon_token, "d1")).status,
      200);

  // A claim parks through HAProxy (on whichever node HAProxy picked).
  const int node0 = procs.at("node0").second, node1 = procs.at("node1").second;
  HttpClient claimer(port);
  ASSERT_TRUE(claimer.sendRaw(
      rawPost("/api/daemon/claim", claimBody("rt1", 30), daemonHeaders(daemon_token, "d1"))));
  ASSERT_TRUE(eventually([&] { return parked(node0, "claim") + parked(node1, "claim") == 1; }))
      << "the claim did not park";

  // A create through HAProxy wakes it.
  auto created = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"n":7}})",
                        auth(user_token));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = field(created, "id");
  auto claim = claimer.readResponse();
  ASSERT_EQ(claim.status, 200) << claim.body;
  EXPECT_EQ(claimedIds(claim), std::vector<std::string>{id});

  // A GET parks through HAProxy until the request ends; the report ends it.
  const std::string req = "/api/runtimes/rt1/requests/" + id;
  HttpClient watcher(port);
  ASSERT_TRUE(watcher.sendRaw(rawGet(req + "?wait=30", auth(user_token))));
  ASSERT_TRUE(eventually([&] { return parked(node0, "get") + parked(node1, "get") == 1; }))
      << "the GET did not park";
  auto report =
      c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
             R"({"attempt":1,"status":"completed","result":{"pong":true}})", auth(daemon_token));
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(field(report, "status"), "ok");
  auto done = watcher.readResponse();
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(field(done, "status"), "completed");
  EXPECT_NE(done.body.find(R"("pong":true)"), std::string::npos) << done.body;

  // SIGTERM: everything it started stops, its temp dir goes, and it exits 0.
  EXPECT_EQ(cluster.terminate(60000), 0) << cluster.log();
  for (const auto& [name, pp] : procs) {
    EXPECT_NE(cmdline(pp.first), cmdlines[pp.first])
        << name << " (pid " << pp.first << ") outlived scripts/cluster";
  }
  EXPECT_FALSE(fs::exists(cluster_dir)) << cluster_dir << " was not removed";
}

// --- --workers ---------------------------------------------------------------------------------

// --workers 2 runs two event loops that both serve, each with its own Redis connections:
// - the log has one "Redis ready" line per worker;
// - the node holds two listening sockets on its one port (SO_REUSEPORT);
// - Redis sees four connections from it, two of them subscribers (command + subscriber per
//   worker), subscribed to the node-private channels of worker 0 and worker 1;
// - 24 claims parked on 24 connections land on both loops: the kernel spreads connections over
//   the two listeners, and a worker's waiters subscribe on that worker's own subscriber, so both
//   subscribers carry runtime channels (with one serving loop, one would carry none, or half the
//   claims would never be answered). Then every claim gets its request.
TEST(Ops, TwoWorkersBothServe) {
  Harness h;  // node 0 (one worker) sets things up, so the wide node's connections stay its own
  Tenant t = h.tenant();
  constexpr int kClaims = 24;
  for (int i = 0; i < kClaims; ++i) h.runtime(t, "rt" + std::to_string(i));

  NodeProcess wide({"--redis-url", h.redis().url(), "--admin-token", Harness::kAdminToken,
                    "--workers", "2", "--node-id", "wide"});
  ASSERT_TRUE(wide.start());
  const std::string log = wide.log();
  EXPECT_NE(log.find("worker 0: Redis ready"), std::string::npos) << log;
  EXPECT_NE(log.find("worker 1: Redis ready"), std::string::npos) << log;
  EXPECT_NE(log.find("(2 workers"), std::string::npos) << log;

  auto sockets = tcpSocketsOf(wide.pid());
  int listeners = 0;
  for (auto [it, end] = sockets.equal_range(wide.port()); it != end; ++it) {
    listeners += it->second == "0A";
  }
  EXPECT_EQ(listeners, 2) << "listening sockets on port " << wide.port();

  std::vector<RedisClient> clients;
  auto subscribers = [&] {
    int n = 0;
    for (const auto& c : clients) n += c.sub > 0;
    return n;
  };
  EXPECT_TRUE(eventually([&] {
    clients = redisClientsFrom(h.redis(), tcpSocketsOf(wide.pid()));
    return clients.size() == 4 && subscribers() == 2;
  })) << clients.size()
      << " connections to Redis, " << subscribers() << " subscribers";
  std::string channels = h.redis().cmd({"PUBSUB", "CHANNELS", "courier:node:wide:*"});
  EXPECT_NE(channels.find("courier:node:wide:0:"), std::string::npos) << channels;
  EXPECT_NE(channels.find("courier:node:wide:1:"), std::string::npos) << channels;

  std::vector<std::unique_ptr<HttpClient>> claimers;
  for (int i = 0; i < kClaims; ++i) {
    claimers.push_back(std::make_unique<HttpClient>(wide.port()));
    ASSERT_TRUE(claimers.back()->sendRaw(rawPost("/api/daemon/claim",
                                                 claimBody("rt" + std::to_string(i), 30),
                                                 daemonHeaders(t.daemon_token, "c"))));
  }
  ASSERT_TRUE(eventually([&] { return parked(wide.port(), "claim") == kClaims; }))
      << parked(wide.port(), "claim") << " of " << kClaims << " claims parked";
  clients = redisClientsFrom(h.redis(), tcpSocketsOf(wide.pid()));
  std::vector<int> subs;
  for (const auto& c : clients) {
    if (c.sub > 0) subs.push_back(c.sub);
  }
  ASSERT_EQ(subs.size(), 2u);
  // Each subscriber: its node-private channel plus the runtime channels of its parked claims.
  EXPECT_GE(subs[0], 2) << "one loop parked no claim: subscriptions " << subs[0] << ", " << subs[1];
  EXPECT_GE(subs[1], 2) << "one loop parked no claim: subscriptions " << subs[0] << ", " << subs[1];
  EXPECT_EQ(subs[0] + subs[1], 2 + kClaims);

  std::vector<std::string> ids;
  for (int i = 0; i < kClaims; ++i) ids.push_back(h.create(t, "rt" + std::to_string(i)));
  for (int i = 0; i < kClaims; ++i) {
    auto r = claimers[i]->readResponse();
    ASSERT_EQ(r.status, 200) << "claim " << i << ": " << r.body;
    EXPECT_EQ(claimedIds(r), std::vector<std::string>{ids[i]}) << "claim " << i;
  }
  EXPECT_EQ(wide.terminate(), 0) << wide.log();
}

// --- logs --------------------------------------------------------------------------------------

// --log-format json: every line the node writes (start with its embedded Redis and generated
// admin token, requests at debug, errors, shutdown) is one JSON object with time, level, node
// and msg.
TEST(Ops, JsonLogsAreOneObjectPerLine) {
  NodeProcess node(
      {"--log-format", "json", "--log-level", "debug", "--workers", "2", "--node-id", "json-node"});
  ASSERT_TRUE(node.start());
  HttpClient c(node.port());
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/metrics").status, 200);
  EXPECT_EQ(c.get("/nope").status, 404);
  EXPECT_EQ(c.get("/api/runtimes", auth("not-a-token")).status, 401);
  EXPECT_EQ(c.post("/api/admin/workspaces", "{not json", auth("x")).status / 100, 4);
  EXPECT_EQ(node.terminate(), 0);

  static const std::regex kTime(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$)");
  static const std::set<std::string> kLevels = {"trace", "debug", "info",
                                                "warn",  "error", "critical"};
  const auto all = lines(node.log());
  ASSERT_GE(all.size(), 3u);
  bool listening = false, stopped = false;
  for (const auto& line : all) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    ASSERT_FALSE(doc.HasParseError()) << "not JSON: " << line;
    ASSERT_TRUE(doc.IsObject()) << line;
    for (const char* key : {"time", "level", "node", "msg"}) {
      ASSERT_TRUE(doc.HasMember(key) && doc[key].IsString())
          << "no string \"" << key << "\": " << line;
    }
    EXPECT_TRUE(std::regex_match(std::string(doc["time"].GetString()), kTime)) << line;
    EXPECT_EQ(kLevels.count(doc["level"].GetString()), 1u) << line;
    EXPECT_STREQ(doc["node"].GetString(), "json-node") << line;
    if (doc.HasMember("request_id")) {
      EXPECT_TRUE(doc["request_id"].IsString()) << line;
    }
    std::string msg = doc["msg"].GetString();
    listening |= msg.find("listening on 127.0.0.1:") != std::string::npos;
    stopped |= msg == "stopped";
  }
  EXPECT_TRUE(listening);
  EXPECT_TRUE(stopped);
}

// --- flags -------------------------------------------------------------------------------------

struct BadValue {
  std::vector<std::string> args;
  EnvVars env;
  std::string says;  // the message names the flag
};

// Runs the node with a bad value; it must exit non-zero at start (never serve) saying `says`.
void expectRefused(const BadValue& bad) {
  std::string what;
  for (const auto& a : bad.args) what += a + " ";
  for (const auto& [k, v] : bad.env) what += k + "=" + v + " ";
  SCOPED_TRACE(what);
  TempDir dir;
  // Sane defaults for the flags the case does not set, so only its value is bad. The Redis URL
  // is unreachable: a node that did not refuse would serve 503s, not exit.
  std::vector<std::string> argv = {courierBinary()};
  argv.insert(argv.end(), bad.args.begin(), bad.args.end());
  auto has = [&](const std::string& flag, const char* env) {
    for (const auto& a : bad.args) {
      if (a == flag || a.rfind(flag + "=", 0) == 0) return true;
    }
    for (const auto& [k, v] : bad.env) {
      if (k == env) return true;
    }
    return false;
  };
  if (!has("--listen", "COURIER_LISTEN")) argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  if (!has("--redis-url", "COURIER_REDIS_URL")) {
    argv.insert(argv.end(), {"--redis-url", "redis://127.0.0.1:1"});
  }
  if (!has("--admin-token", "COURIER_ADMIN_TOKEN"))
    argv.insert(argv.end(), {"--admin-token", kAdmin});
  ChildProcess node(argv, bad.env, dir.path + "/node.log");
  ASSERT_TRUE(node.start()) << node.lastError();
  bool ended = eventually(
      [&] { return !node.running() || node.log().find("listening on") != std::string::npos; });
  ASSERT_TRUE(ended) << "neither refused nor listening after 15 s:\n" << node.log();
  ASSERT_FALSE(node.running()) << "the node accepted the value and serves:\n" << node.log();
  EXPECT_NE(node.wait(), 0) << node.log();
  EXPECT_NE(node.log().find(bad.says), std::string::npos)
      << "the message does not name " << bad.says << ":\n"
      << node.log();
}

TEST(Ops, BadFlagValuesStopTheNodeAtStartNamingTheFlag) {
  const std::vector<BadValue> cases = {
      {{"--workers", "0"}, {}, "--workers"},
      {{"--workers", "many"}, {}, "--workers"},
      {{"--workers", "100000"}, {}, "--workers"},
      {{"--listen", "nope"}, {}, "--listen"},
      {{"--listen", "127.0.0.1:99999"}, {}, "--listen"},
      {{"--listen", "256.1.1.1:80"}, {}, "listen"},
      {{"--log-level", "loud"}, {}, "--log-level"},
      {{"--log-format", "xml"}, {}, "--log-format"},
      {{"--redis-url", "http://localhost:6379"}, {}, "--redis-url"},
      {{"--redis-url", "redis://127.0.0.1:99999"}, {}, "--redis-url"},
      // The kinds messages say "kinds:"; the file case says "--kinds:".
      {{"--kinds", R"({"ping":{"bogus":1}})"}, {}, "kinds"},
      {{"--kinds", R"({"ping":{"claim_lease_ms":"soon"}})"}, {}, "kinds"},
      {{"--kinds", "{not json"}, {}, "kinds"},
      {{"--kinds", "/nonexistent/kinds.json"}, {}, "--kinds"},
      {{"--no-such-flag"}, {}, "--no-such-flag"},
  };
  for (const auto& c : cases) expectRefused(c);
}

TEST(Ops, BadEnvironmentValuesStopTheNodeAtStart) {
  const std::vector<BadValue> cases = {
      {{}, {{"COURIER_WORKERS", "0"}}, "workers"},
      {{}, {{"COURIER_LISTEN", "nope"}}, "listen"},
      {{}, {{"COURIER_LOG_LEVEL", "loud"}}, "log-level"},
      {{}, {{"COURIER_LOG_FORMAT", "yaml"}}, "log-format"},
      {{}, {{"COURIER_REDIS_URL", "tcp://x"}}, "redis-url"},
      {{}, {{"COURIER_KINDS", R"({"nope":{}})"}}, "kinds"},
  };
  for (const auto& c : cases) expectRefused(c);
}

// `courier --help` exits 0 and names every flag with its environment variable.
TEST(Ops, HelpListsEveryFlagAndItsEnvironmentVariable) {
  TempDir dir;
  ChildProcess help({courierBinary(), "--help"}, {}, dir.path + "/help.log");
  ASSERT_TRUE(help.start()) << help.lastError();
  ASSERT_EQ(help.wait(15000), 0) << help.log();
  const std::string text = help.log();
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--listen", "COURIER_LISTEN"},
      {"--redis-url", "COURIER_REDIS_URL"},
      {"--admin-token", "COURIER_ADMIN_TOKEN"},
      {"--node-id", "COURIER_NODE_ID"},
      {"--kinds", "COURIER_KINDS"},
      {"--workers", "COURIER_WORKERS"},
      {"--log-level", "COURIER_LOG_LEVEL"},
      {"--log-format", "COURIER_LOG_FORMAT"},
  };
  for (const auto& [flag, env] : flags) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag << " missing from:\n" << text;
    EXPECT_NE(text.find(env), std::string::npos) << env << " missing from:\n" << text;
  }
}

// A node told to listen on a port another node already serves must refuse to start, like any bad
// value. The listeners use SO_REUSEPORT (for the workers), which lets a second process of the
// same user bind the same port too: the kernel would then silently split connections between
// two unrelated nodes (possibly configured for different Redis servers).
TEST(Ops, ListenOnAPortAnotherNodeServesIsRefused) {
  Harness h;
  const std::string port = std::to_string(h.port());
  expectRefused({{"--listen", "127.0.0.1:" + port, "--redis-url", h.redis().url()}, {}, port});
}

}  // namespace
}  // namespace courier::testing
