// Courier's guarantees under faults, each shown by breaking it on purpose (issue 3): nodes killed
// with SIGKILL or stopped with SIGTERM mid-run, Redis restarted (AOF) or stalled, claim replies
// lost, racing reports, cancels and timeouts, concurrent idempotent creates, the live-request
// bound, and Redis memory returning to its baseline once retention has passed.
//
// Everything runs against real processes (redis-server and node binaries) over loopback. No test
// asserts on timing: conditions are awaited with bounded loops and generous deadlines, and every
// HTTP call is bounded by its client's timeout, so a hang fails a test instead of stalling it.
// All of them are light enough for CI's sanitizer pass (about a minute with ASan nodes), so none
// carries "Soak" in its name; the long run is scripts/soak.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;

// --- small helpers ---------------------------------------------------------------------------

std::vector<std::string> kindsArgs(const std::string& json) { return {"--kinds", json}; }

// The same overrides for every built-in kind: a runtime's queues live as long as the
// longest-lived kind allows, so all of them must be short for a run to reach its end state.
std::string allKinds(const std::string& fields) {
  std::string out = "{";
  for (const char* kind :
       {"ping", "model_list", "local_skill_list", "local_skill_import", "update"}) {
    out += (out.size() > 1 ? ",\"" : "\"") + std::string(kind) + "\":" + fields;
  }
  return out + "}";
}

std::string claimBody(const std::vector<std::string>& rts, int wait, int max = 10) {
  std::string ids;
  for (const auto& rt : rts) ids += (ids.empty() ? "\"" : ",\"") + rt + "\"";
  return R"({"runtime_ids":[)" + ids + R"(],"wait":)" + std::to_string(wait) + R"(,"max":)" +
         std::to_string(max) + "}";
}

std::string reqPath(const std::string& rt, const std::string& id) {
  return "/api/runtimes/" + rt + "/requests/" + id;
}
std::string resultPath(const std::string& rt, const std::string& id) {
  return "/api/daemon/runtimes/" + rt + "/requests/" + id + "/result";
}
std::string leasePath(const std::string& rt, const std::string& id) {
  return "/api/daemon/runtimes/" + rt + "/requests/" + id + "/lease";
}
std::string attemptBody(int64_t attempt) {
  return R"({"attempt":)" + std::to_string(attempt) + "}";
}

// A report whose result names who sent it, so the stored record shows which report won.
std::string reportBody(int64_t attempt, const std::string& by,
                       const std::string& status = "completed") {
  return R"({"attempt":)" + std::to_string(attempt) + R"(,"status":")" + status +
         R"(","result":{"by":")" + by + R"(","attempt":)" + std::to_string(attempt) +
         R"(},"error":")" + (status == "failed" ? "failed by " + by : "") + "\"}";
}

// Parses a body without recording a test failure when it is not JSON (a failed call's body is
// the client's reason text).
rapidjson::Document parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return doc;
}

// result.<name> of a record, as text ("" if absent).
std::string resultField(const HttpResponse& r, const char* name) {
  auto doc = parse(r.body);
  if (doc.HasParseError() || !doc.IsObject()) return "";
  auto res = doc.FindMember("result");
  if (res == doc.MemberEnd() || !res->value.IsObject()) return "";
  auto it = res->value.FindMember(name);
  if (it == res->value.MemberEnd()) return "";
  if (it->value.IsString()) return it->value.GetString();
  if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  return "<complex>";
}

struct Claimed {
  std::string id, runtime_id, kind;
  int64_t attempt = 0;
};

std::vector<Claimed> claimedOf(const HttpResponse& r) {
  std::vector<Claimed> out;
  if (r.status != 200) return out;
  auto doc = parse(r.body);
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("requests") ||
      !doc["requests"].IsArray()) {
    return out;
  }
  for (const auto& v : doc["requests"].GetArray()) {
    out.push_back({v["id"].GetString(), v["runtime_id"].GetString(), v["kind"].GetString(),
                   v["attempt"].GetInt64()});
  }
  return out;
}

bool terminal(const std::string& status) {
  return !status.empty() && status != "pending" && status != "running";
}

// Polls `cond` every 50 ms until it holds or `timeout_ms` passed; returns whether it held.
bool eventually(const std::function<bool()>& cond, int timeout_ms = 20000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
}

int readyz(int port) {
  HttpClient c(port);
  c.setTimeoutMs(5000);
  return c.get("/readyz").status;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

long long usedMemory(RedisServer& redis) {
  for (const auto& line : lines(redis.cmd({"INFO", "memory"}))) {
    if (line.rfind("used_memory:", 0) == 0) return std::stoll(line.substr(12));
  }
  return -1;
}

// Node ports, readable from any thread while the test's main thread restarts nodes (a restarted
// node listens on a fresh port).
class Ports {
 public:
  explicit Ports(Harness& h) {
    for (int i = 0; i < h.nodeCount(); ++i) ports_.push_back(h.port(i));
  }
  int operator[](int i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return ports_.at(i);
  }
  void set(int i, int port) {
    std::lock_guard<std::mutex> lock(mu_);
    ports_.at(i) = port;
  }
  int size() const { return static_cast<int>(ports_.size()); }

 private:
  mutable std::mutex mu_;
  std::vector<int> ports_;
};

// One thread's keep-alive connections, one per node port.
class Pool {
 public:
  explicit Pool(int timeout_ms = 20000) : timeout_ms_(timeout_ms) {}
  HttpClient& at(int port) {
    auto& c = clients_[port];
    if (!c) {
      c = std::make_unique<HttpClient>(port);
      c->setTimeoutMs(timeout_ms_);
    }
    return *c;
  }

 private:
  int timeout_ms_;
  std::map<int, std::unique_ptr<HttpClient>> clients_;
};

// A node that could not take the call: nothing answered (dead or gone), or it said so (503).
bool unavailable(const HttpResponse& r) { return r.status == 0 || r.status == 503; }

// What frontends and daemons saw, for the end-of-run checks: every acknowledged create, every
// delivery, and which report was accepted for each request.
struct Ledger {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> created;  // (runtime, id), acknowledged
  std::map<std::string, int> oks;                            // id -> reports answered "ok"
  std::map<std::string, std::string> ok_by;                  // id -> "consumer/attempt" of the ok
  // id -> "consumer/attempt" of a report whose reply was lost and whose retry was "ignored":
  // it may have been the accepted one.
  std::map<std::string, std::string> maybe_by;
  std::map<std::pair<std::string, int64_t>, int> deliveries;  // (id, attempt) -> times claimed
  std::vector<std::string> failures;  // calls that failed where they must not
  std::atomic<int> ended{0};          // ids with an ok or a maybe
  std::atomic<int> redeliveries{0};   // claims of attempt > 1

  void fail(std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    if (failures.size() < 50) failures.push_back(std::move(what));
  }
  size_t createdCount() {
    std::lock_guard<std::mutex> lock(mu);
    return created.size();
  }
};

// Sends `call` to node `first`, then to the following nodes in turn while a node is
// unavailable, trying at most `tries` nodes. `*used` gets the number of nodes tried.
HttpResponse failover(Pool& pool, const Ports& ports, int first, int tries,
                      const std::function<HttpResponse(HttpClient&)>& call, int* used = nullptr) {
  HttpResponse r;
  for (int i = 0; i < tries; ++i) {
    if (used != nullptr) *used = i + 1;
    r = call(pool.at(ports[(first + i) % ports.size()]));
    if (!unavailable(r)) return r;
  }
  return r;
}

struct LoadOptions {
  int tries = 3;       // nodes a call may try (2 = "retried once on another node")
  int claim_wait = 5;  // seconds
  int claim_max = 10;
  bool extend = false;  // extend each lease before reporting
};

// Creates one ping on `rt`, starting at node `first` and failing over while a node is
// unavailable. The Idempotency-Key makes a create retried after a lost reply safe. Returns the
// id, or "" (and records why) if no node created it.
std::string createOne(const Ports& ports, Pool& pool, const Tenant& t, const std::string& rt,
                      const std::string& key, int first, const LoadOptions& o, Ledger& ledger) {
  Headers h = auth(t.user_token);
  h.emplace_back("Idempotency-Key", key);
  int used = 0;
  HttpResponse r;
  for (int backoff = 0; backoff < 400; ++backoff) {
    r = failover(
        pool, ports, first, o.tries,
        [&](HttpClient& c) {
          return c.post("/api/runtimes/" + rt + "/requests", R"({"kind":"ping"})", h);
        },
        &used);
    if (r.status != 429) break;
    std::this_thread::sleep_for(20ms);  // the live bound: let the daemons catch up
  }
  if (r.status != 201 && r.status != 200) {
    ledger.fail("create " + key + " after " + std::to_string(used) +
                " node(s): " + std::to_string(r.status) + " " + r.body);
    return "";
  }
  std::string id = field(r, "id");
  std::lock_guard<std::mutex> lock(ledger.mu);
  ledger.created.emplace_back(rt, id);
  return id;
}

// A frontend: creates `count` pings round-robin over the runtimes and the nodes.
void runFrontend(const Ports& ports, const Tenant& t, const std::vector<std::string>& rts,
                 const std::string& name, int count, const LoadOptions& o, Ledger& ledger) {
  Pool pool;
  for (int k = 0; k < count; ++k) {
    createOne(ports, pool, t, rts[k % rts.size()], name + "-" + std::to_string(k), k, o, ledger);
  }
}

// A daemon: long-poll claims on its home node, reports each request it gets (completed, with a
// result naming it), and on an unavailable node moves its home to the next one.
void runDaemon(const Ports& ports, int home, const Tenant& t, const std::vector<std::string>& rts,
               const std::string& consumer, const LoadOptions& o, Ledger& ledger,
               const std::function<bool()>& stop) {
  Pool pool;
  while (!stop()) {
    int used = 0;
    HttpResponse r = failover(
        pool, ports, home, o.tries,
        [&](HttpClient& c) {
          return c.post("/api/daemon/claim", claimBody(rts, o.claim_wait, o.claim_max),
                        daemonHeaders(t.daemon_token, consumer));
        },
        &used);
    if (r.status != 200) {
      if (o.tries < ports.size()) {
        ledger.fail("claim by " + consumer + " failed on " + std::to_string(used) +
                    " node(s): " + std::to_string(r.status) + " " + r.body);
      }
      std::this_thread::sleep_for(100ms);
    }
    home = (home + used - 1) % ports.size();
    for (const auto& got : claimedOf(r)) {
      {
        std::lock_guard<std::mutex> lock(ledger.mu);
        ++ledger.deliveries[{got.id, got.attempt}];
      }
      if (got.attempt > 1) ++ledger.redeliveries;
      if (o.extend) {
        HttpResponse e = failover(
            pool, ports, home, o.tries,
            [&](HttpClient& c) {
              return c.post(leasePath(got.runtime_id, got.id), attemptBody(got.attempt),
                            auth(t.daemon_token));
            },
            &used);
        if (e.status == 409) continue;  // lease lost or ended: another attempt has it
        if (e.status != 200) {
          ledger.fail("extend " + got.id + ": " + std::to_string(e.status) + " " + e.body);
        }
      }
      std::string by = consumer + "/" + std::to_string(got.attempt);
      bool lost_reply = false;
      HttpResponse rep;
      for (int i = 0; i < o.tries; ++i) {
        rep = pool.at(ports[(home + i) % ports.size()])
                  .post(resultPath(got.runtime_id, got.id), reportBody(got.attempt, consumer),
                        auth(t.daemon_token));
        if (!unavailable(rep)) break;
        // Nothing answered: the report may or may not have been recorded. Retry elsewhere.
        lost_reply = lost_reply || rep.status == 0;
      }
      std::string status = field(rep, "status");
      std::lock_guard<std::mutex> lock(ledger.mu);
      if (rep.status == 200 && status == "ok") {
        if (++ledger.oks[got.id] == 1 && !ledger.maybe_by.count(got.id)) ++ledger.ended;
        ledger.ok_by[got.id] = by;
      } else if (rep.status == 200 && status == "ignored") {
        if (lost_reply && !ledger.maybe_by.count(got.id)) {
          ledger.maybe_by[got.id] = by;
          if (!ledger.oks.count(got.id)) ++ledger.ended;
        }
      } else if (!(rep.status == 409 && field(rep, "code") == "lease_lost")) {
        if (ledger.failures.size() < 50) {
          ledger.failures.push_back("report " + got.id + " by " + by + ": " +
                                    std::to_string(rep.status) + " " + rep.body);
        }
      }
    }
  }
}

// The end-of-run check shared by the node-fault tests: every acknowledged create ended
// `completed` (read on a live node, waiting for it), exactly one report was accepted per request,
// the record holds that report's result, and no attempt was ever delivered twice.
void expectEveryRequestCompletedOnce(const Ports& ports, const std::vector<int>& live,
                                     const Tenant& t, Ledger& ledger) {
  std::vector<std::pair<std::string, std::string>> created;
  {
    std::lock_guard<std::mutex> lock(ledger.mu);
    created = ledger.created;
  }
  std::set<std::string> unique;
  for (const auto& [rt, id] : created) unique.insert(id);
  EXPECT_EQ(unique.size(), created.size()) << "an Idempotency-Key create returned another id";

  std::mutex mu;
  std::vector<std::string> problems;
  std::atomic<size_t> next{0};
  std::vector<std::thread> readers;
  for (int w = 0; w < 4; ++w) {
    readers.emplace_back([&, w] {
      Pool pool;
      for (size_t i = next++; i < created.size(); i = next++) {
        const auto& [rt, id] = created[i];
        HttpResponse r;
        for (int round = 0; round < 3; ++round) {
          r = pool.at(ports[live[(w + round) % live.size()]])
                  .get(reqPath(rt, id) + "?wait=10", auth(t.user_token));
          if (r.status == 200 && terminal(field(r, "status"))) break;
        }
        std::string problem;
        std::string by = resultField(r, "by") + "/" + resultField(r, "attempt");
        {
          std::lock_guard<std::mutex> lock(ledger.mu);
          int oks = ledger.oks.count(id) ? ledger.oks[id] : 0;
          bool maybe = ledger.maybe_by.count(id) > 0;
          if (r.status != 200 || field(r, "status") != "completed") {
            problem = "not completed: " + std::to_string(r.status) + " " + r.body;
          } else if (oks > 1) {
            problem = std::to_string(oks) + " reports accepted";
          } else if (oks == 1 && ledger.ok_by[id] != by) {
            problem = "record holds " + by + " but the accepted report was " + ledger.ok_by[id];
          } else if (oks == 0 && !(maybe && ledger.maybe_by[id] == by)) {
            problem = "completed by " + by + " but no report of it was accepted";
          }
        }
        if (!problem.empty()) {
          std::lock_guard<std::mutex> lock(mu);
          if (problems.size() < 20) problems.push_back(id + ": " + problem);
        }
      }
    });
  }
  for (auto& th : readers) th.join();
  for (const auto& p : problems) ADD_FAILURE() << p;
  std::lock_guard<std::mutex> lock(ledger.mu);
  for (const auto& [key, n] : ledger.deliveries) {
    EXPECT_EQ(n, 1) << "attempt " << key.second << " of " << key.first << " was delivered " << n
                    << " times";
  }
  for (const auto& f : ledger.failures) ADD_FAILURE() << f;
}

// --- 1. a node dies ----------------------------------------------------------------------------

// Three nodes, frontends creating 2000 pings round-robin, six daemons long-polling claims on
// different nodes; one node is SIGKILLed mid-run. Clients whose calls to it fail go to another
// node. Every acknowledged request ends completed, with exactly one accepted report (whatever the
// dead node had claimed for a daemon that never got the reply must have been redelivered after the
// 500 ms lease for that to hold; the next test pins that case down), and GETs that were parked on
// the dead node, re-issued on another node, get the result.
TEST(FaultNodeKill, SigkillOneOfThreeNodesMidRunLosesNothing) {
  Harness h(3, kindsArgs(R"({"ping":{"claim_lease_ms":500}})"));
  Tenant t = h.tenant();
  const std::vector<std::string> rts = {"rt0", "rt1"};
  for (const auto& rt : rts) h.runtime(t, rt);
  h.runtime(t, "late");
  Ports ports(h);
  Ledger ledger;
  constexpr int kFrontends = 4;
  constexpr int kPerFrontend = 500;
  constexpr int kDaemons = 6;
  constexpr int kRequests = kFrontends * kPerFrontend;
  LoadOptions o;  // claim wait 5, max 10, any live node
  std::atomic<bool> frontends_done{false};
  auto deadline = std::chrono::steady_clock::now() + 25s;
  auto stop = [&] {
    return (frontends_done && ledger.ended.load() >= static_cast<int>(ledger.createdCount())) ||
           std::chrono::steady_clock::now() > deadline;
  };

  std::vector<std::thread> daemons;
  for (int i = 0; i < kDaemons; ++i) {
    daemons.emplace_back(
        [&, i] { runDaemon(ports, i % 3, t, rts, "d" + std::to_string(i), o, ledger, stop); });
  }
  std::vector<std::thread> frontends;
  for (int i = 0; i < kFrontends; ++i) {
    frontends.emplace_back(
        [&, i] { runFrontend(ports, t, rts, "f" + std::to_string(i), kPerFrontend, o, ledger); });
  }

  // Mid-run: park GETs on node 2 for requests no daemon serves yet, then kill it. (No ASSERT
  // while the threads run: returning would destroy what they use.)
  EXPECT_TRUE(eventually([&] { return ledger.createdCount() >= kRequests / 2; }));
  std::vector<std::string> watched;
  for (int i = 0; i < 10; ++i) watched.push_back(h.create(t, "late", "ping", "{}", i % 3));
  {
    std::lock_guard<std::mutex> lock(ledger.mu);
    for (const auto& id : watched) ledger.created.emplace_back("late", id);
  }
  std::vector<std::future<HttpResponse>> parked;
  for (const auto& id : watched) {
    parked.push_back(std::async(std::launch::async, [&, id] {
      HttpClient c(ports[2]);
      c.setTimeoutMs(30000);
      return c.get(reqPath("late", id) + "?wait=20", auth(t.user_token));
    }));
  }
  std::this_thread::sleep_for(200ms);
  h.node(2).kill9();
  for (auto& p : parked) {
    auto r = p.get();
    EXPECT_EQ(r.status, 0) << "a GET parked on the killed node was answered: " << r.body;
  }
  // Their clients re-issue them on a live node; a daemon serves the runtime from there.
  for (const auto& id : watched) {
    parked.push_back(std::async(std::launch::async, [&, id] {
      HttpClient c(ports[1]);
      c.setTimeoutMs(30000);
      return c.get(reqPath("late", id) + "?wait=20", auth(t.user_token));
    }));
  }
  std::thread late_daemon([&] { runDaemon(ports, 0, t, {"late"}, "late", o, ledger, stop); });

  for (auto& th : frontends) th.join();
  frontends_done = true;
  for (auto& th : daemons) th.join();

  late_daemon.join();
  for (size_t i = watched.size(); i < parked.size(); ++i) {
    HttpResponse r = parked[i].get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(field(r, "status"), "completed") << r.body;
  }
  EXPECT_EQ(ledger.createdCount(), static_cast<size_t>(kRequests) + watched.size());
  expectEveryRequestCompletedOnce(ports, {0, 1}, t, ledger);
  std::cout << "[ info ] " << ledger.createdCount() << " created, " << ledger.redeliveries.load()
            << " redeliveries, " << ledger.maybe_by.size() << " reports whose reply was lost\n";
}

// A claim the dead node made for a daemon that never read the reply is redelivered: the daemon's
// claim is parked on node 1 and claims a request (it is running), the node is SIGKILLed before
// the daemon reads a byte, and a daemon on node 0 gets attempt 2 once the short lease has run out.
TEST(FaultNodeKill, ClaimOfADeadNodeIsRedeliveredAfterTheLease) {
  Harness h(2, kindsArgs(R"({"ping":{"claim_lease_ms":300}})"));
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient lost(h.port(1));
  std::string body = claimBody({"rt1"}, 30);
  ASSERT_TRUE(lost.sendRaw("POST /api/daemon/claim HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           t.daemon_token + "\r\nX-Courier-Consumer: lost\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body));
  std::this_thread::sleep_for(300ms);  // parked (if not, the claim below finds it pending)
  std::string id = h.create(t, "rt1", "ping", "{}", 0);
  HttpClient c(h.port(0));
  ASSERT_TRUE(eventually(
      [&] { return field(c.get(reqPath("rt1", id), auth(t.user_token)), "status") == "running"; }));
  h.node(1).kill9();
  lost.close();
  auto got = claimedOf(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 10), daemonHeaders(t.daemon_token, "alive")));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].attempt, 2);
  EXPECT_EQ(
      field(c.post(resultPath("rt1", id), reportBody(2, "alive"), auth(t.daemon_token)), "status"),
      "ok");
  EXPECT_EQ(field(c.get(reqPath("rt1", id), auth(t.user_token)), "status"), "completed");
}

// --- 2. Redis goes away and comes back ---------------------------------------------------------

// Redis is SIGKILLed and restarted on the same port with its AOF (appendfsync always). During the
// outage every call fails fast with 503 store_unavailable and Retry-After, /readyz says 503, and
// parked GETs and claims stay parked; once Redis is back, /readyz says 200, every create that was
// acknowledged before the kill is there, a GET parked before the outage returns `completed` after
// a report sent once Redis is back, a claim parked before the outage is woken by a create, and
// /metrics counts the reconnect.
TEST(FaultRedis, RestartWithAofLosesNoAcknowledgedCreateAndKeepsWaitersParked) {
  Harness h(2, {}, RedisServer::Options{.appendonly = true});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  h.runtime(t, "idle");
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(h.create(t, "rt1", "ping", "{}", i % 2));
  const std::string watched = ids.front();

  std::vector<std::future<HttpResponse>> gets;
  for (int n = 0; n < 2; ++n) {
    gets.push_back(std::async(std::launch::async, [&, n] {
      HttpClient c(h.port(n));
      c.setTimeoutMs(60000);
      return c.get(reqPath("rt1", watched) + "?wait=45", auth(t.user_token));
    }));
  }
  auto claim = std::async(std::launch::async, [&] {
    HttpClient c(h.port(1));
    c.setTimeoutMs(60000);
    return c.post("/api/daemon/claim", claimBody({"idle"}, 45),
                  daemonHeaders(t.daemon_token, "parked"));
  });
  std::this_thread::sleep_for(300ms);  // let them park (the outcome does not depend on it)

  h.redis().kill9();
  for (int n = 0; n < 2; ++n) {
    EXPECT_TRUE(eventually([&] { return readyz(h.port(n)) == 503; })) << "node " << n;
  }
  for (int n = 0; n < 2; ++n) {
    HttpClient c(h.port(n));
    c.setTimeoutMs(15000);  // a hang fails here instead of stalling
    std::vector<HttpResponse> during = {
        c.get("/readyz"),
        c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token)),
        c.get(reqPath("rt1", ids[1]), auth(t.user_token)),
        c.del(reqPath("rt1", ids[1]), auth(t.user_token)),
        c.post("/api/daemon/claim", claimBody({"rt1"}, 0), daemonHeaders(t.daemon_token, "x")),
        // A parked call whose wait runs out while Redis is away gets 503 too.
        c.post("/api/daemon/claim", claimBody({"rt1"}, 1), daemonHeaders(t.daemon_token, "y")),
        c.get(reqPath("rt1", ids[1]) + "?wait=1", auth(t.user_token)),
        c.post(resultPath("rt1", ids[1]), reportBody(1, "x"), auth(t.daemon_token)),
    };
    for (size_t i = 0; i < during.size(); ++i) {
      EXPECT_EQ(during[i].status, 503) << "node " << n << " call " << i << ": " << during[i].body;
      EXPECT_EQ(field(during[i], "code"), "store_unavailable") << "node " << n << " call " << i;
      EXPECT_TRUE(during[i].header("Retry-After").has_value()) << "node " << n << " call " << i;
    }
  }
  // Parked calls stay parked through the outage (their waits are far from over).
  for (auto& g : gets) EXPECT_EQ(g.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(claim.wait_for(0s), std::future_status::timeout);

  h.redis().restart();
  for (int n = 0; n < 2; ++n) {
    EXPECT_TRUE(eventually([&] { return readyz(h.port(n)) == 200; })) << "node " << n;
  }
  for (int n = 0; n < 2; ++n) {
    HttpClient m(h.port(n));
    EXPECT_GE(metricValue(m.get("/metrics").body, "courier_redis_reconnects_total"), 1)
        << "node " << n;
  }
  HttpClient c(h.port(1));
  for (const auto& id : ids) {
    auto r = c.get(reqPath("rt1", id), auth(t.user_token));
    ASSERT_EQ(r.status, 200) << id << " was acknowledged before the kill: " << r.body;
    EXPECT_EQ(field(r, "status"), "pending");
  }
  // The parked GETs are answered by a report sent once Redis is back (woken, not timed out).
  bool reported = false;
  for (int round = 0; round < 20 && !reported; ++round) {
    for (const auto& got : claimedOf(c.post("/api/daemon/claim", claimBody({"rt1"}, 5, 100),
                                            daemonHeaders(t.daemon_token, "d")))) {
      auto r =
          c.post(resultPath("rt1", got.id), reportBody(got.attempt, "d"), auth(t.daemon_token));
      EXPECT_EQ(field(r, "status"), "ok") << r.body;
      reported = reported || got.id == watched;
    }
  }
  ASSERT_TRUE(reported);
  for (auto& g : gets) {
    auto r = g.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(field(r, "status"), "completed") << r.body;
  }
  // The claim parked before the outage is woken by a create on the other node.
  std::string fresh = h.create(t, "idle", "ping", "{}", 0);
  auto woken = claim.get();
  auto got = claimedOf(woken);
  ASSERT_EQ(got.size(), 1u) << woken.status << " " << woken.body;
  EXPECT_EQ(got[0].id, fresh);
}

// Redis stalls (SIGSTOP): calls in flight get 503 once the node gives up on the stalled link
// (its command timeout), never hang; /readyz turns 503; after SIGCONT the node serves again, a
// GET parked through the stall is answered by a report, and a create retried with its
// Idempotency-Key after the 503 exists exactly once (the stalled write may or may not have run).
TEST(FaultRedis, StallAnswers503ThenRecovers) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  auto parked = std::async(std::launch::async, [&] {
    HttpClient c(h.port());
    c.setTimeoutMs(60000);
    return c.get(reqPath("rt1", id) + "?wait=45", auth(t.user_token));
  });
  std::this_thread::sleep_for(300ms);
  long long live_before =
      h.redis().cmdInt({"ZCARD", "courier:{ws:" + t.workspace + "}:rt:rt1:deadlines"});

  h.redis().pause();
  HttpClient c(h.port());
  c.setTimeoutMs(15000);
  Headers idem = auth(t.user_token);
  idem.emplace_back("Idempotency-Key", "during-stall");
  auto create = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", idem);
  EXPECT_EQ(create.status, 503) << create.body;
  EXPECT_EQ(field(create, "code"), "store_unavailable");
  EXPECT_TRUE(create.header("Retry-After").has_value());
  auto get = c.get(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(get.status, 503) << get.body;
  EXPECT_TRUE(eventually([&] { return readyz(h.port()) == 503; }, 10000));
  // Many calls at once during the stall: each fails fast, none queues without bound or hangs.
  std::vector<std::future<HttpResponse>> burst;
  for (int i = 0; i < 50; ++i) {
    burst.push_back(std::async(std::launch::async, [&, i] {
      HttpClient b(h.port());
      b.setTimeoutMs(15000);
      return i % 2 ? b.get(reqPath("rt1", id), auth(t.user_token))
                   : b.post("/api/daemon/claim", claimBody({"rt1"}, 0),
                            daemonHeaders(t.daemon_token, "b" + std::to_string(i)));
    }));
  }
  for (auto& f : burst) {
    auto r = f.get();
    EXPECT_EQ(r.status, 503) << r.body;
  }
  EXPECT_EQ(parked.wait_for(0s), std::future_status::timeout);
  h.redis().resume();

  ASSERT_TRUE(eventually([&] { return readyz(h.port()) == 200; }));
  auto again = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", idem);
  EXPECT_TRUE(again.status == 201 || again.status == 200) << again.body;
  EXPECT_EQ(h.redis().cmdInt({"ZCARD", "courier:{ws:" + t.workspace + "}:rt:rt1:deadlines"}),
            live_before + 1);
  bool reported = false;
  for (int round = 0; round < 5 && !reported; ++round) {
    for (const auto& got : claimedOf(c.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                                            daemonHeaders(t.daemon_token, "d")))) {
      EXPECT_EQ(field(c.post(resultPath("rt1", got.id), reportBody(got.attempt, "d"),
                             auth(t.daemon_token)),
                      "status"),
                "ok");
      reported = reported || got.id == id;
    }
  }
  ASSERT_TRUE(reported);
  auto r = parked.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(field(r, "status"), "completed") << r.body;
}

// Redis stalls with DEBUG SLEEP (the process runs, the event loop does not): a report in flight
// gets 503; retried once Redis is back, it is accepted or — if the stalled one ran after all —
// ignored; either way the request ended exactly once (one transition) with that result.
TEST(FaultRedis, DebugSleepThenARetriedReportEndsTheRequestOnce) {
  Harness h(1, {}, RedisServer::Options{.extra_args = {"--enable-debug-command", "yes"}});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  c.setTimeoutMs(15000);
  auto got = claimedOf(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "d")));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(c.post(leasePath("rt1", id), attemptBody(1), auth(t.daemon_token)).status, 200);

  auto sleeper = std::async(std::launch::async, [&] {
    return h.redis().cmd({"DEBUG", "SLEEP", "5"});  // its own connection
  });
  std::this_thread::sleep_for(200ms);
  auto report = c.post(resultPath("rt1", id), reportBody(1, "d"), auth(t.daemon_token));
  EXPECT_EQ(report.status, 503) << report.body;
  EXPECT_EQ(field(report, "code"), "store_unavailable");
  EXPECT_EQ(sleeper.get(), "OK");

  ASSERT_TRUE(eventually([&] { return readyz(h.port()) == 200; }));
  auto retry = c.post(resultPath("rt1", id), reportBody(1, "d"), auth(t.daemon_token));
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_TRUE(field(retry, "status") == "ok" || field(retry, "status") == "ignored") << retry.body;
  auto rec = c.get(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(field(rec, "status"), "completed");
  EXPECT_EQ(field(rec, "version"), "3");  // created, claimed, completed: one ending
  EXPECT_EQ(resultField(rec, "by"), "d");
}

// --- 4. lost claim replies -------------------------------------------------------------------

// A daemon takes a claim reply and vanishes without extending or reporting: with a short claim
// lease a consumer on another node gets attempt 2, and the first daemon's late extend and report
// are fenced off with 409 lease_lost.
TEST(FaultLostClaim, DaemonThatNeverExtendsLosesItsAttemptToAnotherConsumer) {
  Harness h(2, kindsArgs(R"({"ping":{"claim_lease_ms":300,"running_timeout_ms":60000}})"));
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  {
    HttpClient first(h.port(0));
    auto got = claimedOf(first.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                                    daemonHeaders(t.daemon_token, "first")));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attempt, 1);
  }  // ...and it disconnects.
  HttpClient second(h.port(1));
  auto got = claimedOf(second.post("/api/daemon/claim", claimBody({"rt1"}, 10),
                                   daemonHeaders(t.daemon_token, "second")));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].attempt, 2);
  ASSERT_EQ(second.post(leasePath("rt1", id), attemptBody(2), auth(t.daemon_token)).status, 200);

  HttpClient late(h.port(0));
  auto lease = late.post(leasePath("rt1", id), attemptBody(1), auth(t.daemon_token));
  EXPECT_EQ(lease.status, 409);
  EXPECT_EQ(field(lease, "code"), "lease_lost");
  auto report = late.post(resultPath("rt1", id), reportBody(1, "first"), auth(t.daemon_token));
  EXPECT_EQ(report.status, 409);
  EXPECT_EQ(field(report, "code"), "lease_lost");

  EXPECT_EQ(field(second.post(resultPath("rt1", id), reportBody(2, "second"), auth(t.daemon_token)),
                  "status"),
            "ok");
  auto rec = second.get(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(field(rec, "status"), "completed");
  EXPECT_EQ(field(rec, "attempt"), "2");
  EXPECT_EQ(resultField(rec, "by"), "second");
}

// A daemon sends a claim for work that is there and hangs up at once, so its reply is lost on the
// way (or the node sees it gone and releases the claim, or never serves it). Either way the
// request is not stranded: another consumer gets it — attempt 1 if the hung-up claim never took
// it, attempt 2 if it did (released at once, or after its lease: attempt numbers only grow).
TEST(FaultLostClaim, ClaimWhoseClientHangsUpAtOnceIsNotStranded) {
  Harness h(1, kindsArgs(R"({"ping":{"claim_lease_ms":300,"running_timeout_ms":60000}})"));
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  int taken_first = 0;
  for (int i = 0; i < 10; ++i) {
    std::string id = h.create(t, "rt1");
    {
      HttpClient gone(h.port());
      std::string body = claimBody({"rt1"}, 5);
      ASSERT_TRUE(
          gone.sendRaw("POST /api/daemon/claim HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer " +
                       t.daemon_token + "\r\nX-Courier-Consumer: gone\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body));
      gone.close();
    }
    HttpClient c(h.port());
    auto got = claimedOf(c.post("/api/daemon/claim", claimBody({"rt1"}, 10),
                                daemonHeaders(t.daemon_token, "alive")));
    ASSERT_EQ(got.size(), 1u) << "request " << id << " stranded";
    EXPECT_EQ(got[0].id, id);
    EXPECT_TRUE(got[0].attempt == 1 || got[0].attempt == 2) << got[0].attempt;
    taken_first += got[0].attempt == 2;
    EXPECT_EQ(field(c.post(resultPath("rt1", id), reportBody(got[0].attempt, "alive"),
                           auth(t.daemon_token)),
                    "status"),
              "ok");
  }
  std::cout << "[ info ] " << taken_first << " of 10 hung-up claims took their request first\n";
  // Every delivery counted, those given back apart: 10 to "alive", `taken_first` to "gone".
  HttpClient m(h.port());
  std::string text = m.get("/metrics").body;
  EXPECT_EQ(metricValue(text, R"(courier_requests_claimed_total{kind="ping"})"), 10 + taken_first);
  double released = metricValue(text, R"(courier_requests_released_total{kind="ping"})");
  std::cout << "[ info ] " << released << " of them released at once, the rest after a lease\n";
  EXPECT_LE(released, taken_first);
  if (taken_first > 0) {
    EXPECT_GE(released, 1) << "a hung-up claim's requests are given back";
  }
}

// --- 5. exactly one result -------------------------------------------------------------------

// Sixteen reports of the same attempt race on two nodes, half `completed`, half `failed`, each
// with its own result: exactly one is accepted, the rest are ignored, and every GET parked on
// either node sees the same final record — the accepted one.
TEST(FaultExactlyOnce, RacingReportsOfOneAttemptRecordExactlyOne) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  ASSERT_EQ(claimedOf(c.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                             daemonHeaders(t.daemon_token, "d")))
                .size(),
            1u);
  std::vector<std::future<HttpResponse>> gets;
  for (int i = 0; i < 6; ++i) {
    gets.push_back(std::async(std::launch::async, [&, i] {
      HttpClient g(h.port(i % 2));
      g.setTimeoutMs(30000);
      return g.get(reqPath("rt1", id) + "?wait=20", auth(t.user_token));
    }));
  }
  std::this_thread::sleep_for(300ms);

  constexpr int kReporters = 16;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kReporters; ++i) {
    clients.push_back(std::make_unique<HttpClient>(h.port(i % 2)));
    ASSERT_EQ(clients.back()->get("/healthz").status, 200);  // connected before the race
  }
  std::latch start(kReporters);
  std::vector<std::future<HttpResponse>> reports;
  for (int i = 0; i < kReporters; ++i) {
    reports.push_back(std::async(std::launch::async, [&, i] {
      start.arrive_and_wait();
      return clients[i]->post(
          resultPath("rt1", id),
          reportBody(1, "r" + std::to_string(i), i % 2 ? "failed" : "completed"),
          auth(t.daemon_token));
    }));
  }
  int oks = 0, ignored = 0, winner = -1;
  for (int i = 0; i < kReporters; ++i) {
    auto r = reports[i].get();
    EXPECT_EQ(r.status, 200) << r.body;
    if (field(r, "status") == "ok") {
      ++oks;
      winner = i;
    } else if (field(r, "status") == "ignored") {
      ++ignored;
    }
  }
  EXPECT_EQ(oks, 1);
  EXPECT_EQ(ignored, kReporters - 1);
  ASSERT_GE(winner, 0);
  auto final_rec = c.get(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(resultField(final_rec, "by"), "r" + std::to_string(winner));
  EXPECT_EQ(field(final_rec, "status"), winner % 2 ? "failed" : "completed");
  EXPECT_EQ(field(final_rec, "version"), "3");
  for (auto& g : gets) {
    auto r = g.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, final_rec.body);
  }
}

// A report of attempt 1 races the expiry of its 200 ms lease while another consumer's claim is
// parked, at delays from 0 to 380 ms, on 20 runtimes at once. Whoever wins, exactly one report is
// accepted and the record holds its result: the first daemon's (its lease ran out but nobody had
// taken the request over), or the second's (it got attempt 2 and the first was fenced off).
TEST(FaultExactlyOnce, ReportRacingLeaseExpiry) {
  Harness h(2, kindsArgs(R"({"ping":{"claim_lease_ms":200,"max_attempts":3,)"
                         R"("running_timeout_ms":60000}})"));
  Tenant t = h.tenant();
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) h.runtime(t, "rt" + std::to_string(i));
  std::mutex mu;
  std::map<std::string, int> outcomes;
  std::vector<std::thread> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.emplace_back([&, i] {
      std::string rt = "rt" + std::to_string(i);
      HttpClient a(h.port(0));
      a.setTimeoutMs(20000);
      auto created =
          a.post("/api/runtimes/" + rt + "/requests", R"({"kind":"ping"})", auth(t.user_token));
      std::string id = field(created, "id");
      auto first = claimedOf(a.post("/api/daemon/claim", claimBody({rt}, 5),
                                    daemonHeaders(t.daemon_token, "a" + std::to_string(i))));
      if (first.size() != 1) return ADD_FAILURE() << rt << ": first claim got nothing";
      auto second = std::async(std::launch::async, [&] {
        HttpClient b(h.port(1));
        b.setTimeoutMs(20000);
        return b.post("/api/daemon/claim", claimBody({rt}, 2),
                      daemonHeaders(t.daemon_token, "b" + std::to_string(i)));
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(i * 20));
      auto ra = a.post(resultPath(rt, id), reportBody(1, "a"), auth(t.daemon_token));
      auto got = claimedOf(second.get());
      HttpResponse rb;
      if (!got.empty()) {
        EXPECT_EQ(got[0].attempt, 2);
        HttpClient b(h.port(1));
        // Had a slow machine let this lease run out too, the report of attempt 2 is still
        // accepted: nobody claims attempt 3.
        b.post(leasePath(rt, id), attemptBody(2), auth(t.daemon_token));
        rb = b.post(resultPath(rt, id), reportBody(got[0].attempt, "b"), auth(t.daemon_token));
      }
      int oks = (field(ra, "status") == "ok") + (field(rb, "status") == "ok");
      EXPECT_EQ(oks, 1) << rt << ": a " << ra.status << " " << ra.body << "; b " << rb.status << " "
                        << rb.body;
      auto rec = a.get(reqPath(rt, id), auth(t.user_token));
      EXPECT_EQ(field(rec, "status"), "completed") << rec.body;
      std::string winner = field(ra, "status") == "ok" ? "a" : "b";
      EXPECT_EQ(resultField(rec, "by"), winner) << rec.body;
      if (winner == "b") {
        EXPECT_EQ(ra.status, 409);
        EXPECT_EQ(field(ra, "code"), "lease_lost");
      }
      std::lock_guard<std::mutex> lock(mu);
      ++outcomes[winner == "a" ? "first daemon won" : "redelivered, second daemon won"];
    });
  }
  for (auto& th : runs) th.join();
  for (const auto& [what, n] : outcomes) std::cout << "[ info ] " << what << ": " << n << "\n";
}

// A report races the running deadline (running timeout 150 ms, reports sent 0–285 ms after the
// claim): the request ends either completed (report "ok") or timeout (report "ignored"), never
// both, and a GET parked on the other node sees that same ending.
TEST(FaultExactlyOnce, ReportRacingRunningTimeout) {
  Harness h(2, kindsArgs(R"({"ping":{"running_timeout_ms":150}})"));
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  constexpr int kRuns = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i) ids.push_back(h.create(t, "rt1"));
  std::mutex mu;
  std::map<std::string, int> outcomes;
  std::vector<std::thread> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.emplace_back([&, i] {
      HttpClient a(h.port(0));
      a.setTimeoutMs(20000);
      auto got = claimedOf(a.post("/api/daemon/claim", claimBody({"rt1"}, 5, 1),
                                  daemonHeaders(t.daemon_token, "d" + std::to_string(i))));
      if (got.size() != 1) return ADD_FAILURE() << "claim " << i << " got nothing";
      auto watcher = std::async(std::launch::async, [&, id = got[0].id] {
        HttpClient g(h.port(1));
        g.setTimeoutMs(20000);
        return g.get(reqPath("rt1", id) + "?wait=10", auth(t.user_token));
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(i * 15));
      auto report = a.post(resultPath("rt1", got[0].id), reportBody(got[0].attempt, "d"),
                           auth(t.daemon_token));
      auto seen = watcher.get();
      auto rec = a.get(reqPath("rt1", got[0].id), auth(t.user_token));
      std::string status = field(report, "status");
      EXPECT_EQ(report.status, 200) << report.body;
      if (status == "ok") {
        EXPECT_EQ(field(rec, "status"), "completed") << rec.body;
      } else {
        EXPECT_EQ(status, "ignored") << report.body;
        EXPECT_EQ(field(rec, "status"), "timeout") << rec.body;
      }
      EXPECT_EQ(seen.body, rec.body);
      std::lock_guard<std::mutex> lock(mu);
      ++outcomes[field(rec, "status")];
    });
  }
  for (auto& th : runs) th.join();
  for (const auto& [what, n] : outcomes) std::cout << "[ info ] " << what << ": " << n << "\n";
}

// A cancel races the report of the running attempt, on two nodes: either the report is accepted
// and the cancel returns the completed record unchanged, or the cancel wins and the report gets
// 409 cancelled. Never both, never neither.
TEST(FaultExactlyOnce, CancelRacingReport) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  constexpr int kRuns = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i) ids.push_back(h.create(t, "rt1"));
  HttpClient d(h.port());
  std::map<std::string, int64_t> attempts;
  for (int round = 0; round < 10 && attempts.size() < ids.size(); ++round) {
    for (const auto& got : claimedOf(d.post("/api/daemon/claim", claimBody({"rt1"}, 2, 100),
                                            daemonHeaders(t.daemon_token, "d")))) {
      attempts[got.id] = got.attempt;
    }
  }
  ASSERT_EQ(attempts.size(), ids.size());
  std::map<std::string, int> outcomes;
  for (const auto& id : ids) {
    HttpClient a(h.port(0)), b(h.port(1));
    ASSERT_EQ(a.get("/healthz").status, 200);
    ASSERT_EQ(b.get("/healthz").status, 200);
    std::latch start(2);
    auto report = std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      return a.post(resultPath("rt1", id), reportBody(attempts[id], "d"), auth(t.daemon_token));
    });
    auto cancel = std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      return b.del(reqPath("rt1", id), auth(t.user_token));
    });
    auto rep = report.get();
    auto can = cancel.get();
    ASSERT_EQ(can.status, 200) << can.body;
    auto rec = d.get(reqPath("rt1", id), auth(t.user_token));
    if (rep.status == 200 && field(rep, "status") == "ok") {
      EXPECT_EQ(field(can, "status"), "completed") << can.body;
      EXPECT_EQ(field(rec, "status"), "completed");
      ++outcomes["report won"];
    } else {
      EXPECT_EQ(rep.status, 409) << rep.body;
      EXPECT_EQ(field(rep, "code"), "cancelled") << rep.body;
      EXPECT_EQ(field(can, "status"), "cancelled") << can.body;
      EXPECT_EQ(field(rec, "status"), "cancelled");
      ++outcomes["cancel won"];
    }
    EXPECT_EQ(field(rec, "version"), "3");
    EXPECT_EQ(can.body, rec.body);
  }
  for (const auto& [what, n] : outcomes) std::cout << "[ info ] " << what << ": " << n << "\n";
}

// --- 6. idempotent creates, coalescing, the live bound -----------------------------------------

// Twenty concurrent POSTs with one Idempotency-Key, on two nodes: exactly one 201, the rest 200
// with the same id; the key with another payload is 409. Concurrent cancels of it all return
// the same cancelled record; concurrent local_skill_list creates coalesce into one.
TEST(FaultIdempotency, ConcurrentCreatesWithOneKeyMakeOneRequest) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  constexpr int kThreads = 20;
  auto race = [&](const std::function<HttpResponse(HttpClient&)>& call) {
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < kThreads; ++i) {
      clients.push_back(std::make_unique<HttpClient>(h.port(i % 2)));
      EXPECT_EQ(clients.back()->get("/healthz").status, 200);
    }
    std::latch start(kThreads);
    std::vector<std::future<HttpResponse>> calls;
    for (int i = 0; i < kThreads; ++i) {
      calls.push_back(std::async(std::launch::async, [&, i] {
        start.arrive_and_wait();
        return call(*clients[i]);
      }));
    }
    std::vector<HttpResponse> out;
    for (auto& f : calls) out.push_back(f.get());
    return out;
  };
  auto count = [](const std::vector<HttpResponse>& rs, int status) {
    return std::count_if(rs.begin(), rs.end(), [&](const auto& r) { return r.status == status; });
  };
  auto ids = [](const std::vector<HttpResponse>& rs) {
    std::set<std::string> s;
    for (const auto& r : rs) s.insert(field(r, "id"));
    return s;
  };

  Headers idem = auth(t.user_token);
  idem.emplace_back("Idempotency-Key", "one-key");
  auto creates = race([&](HttpClient& c) {
    return c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{}})", idem);
  });
  EXPECT_EQ(count(creates, 201), 1);
  EXPECT_EQ(count(creates, 200), kThreads - 1);
  ASSERT_EQ(ids(creates).size(), 1u);
  std::string id = *ids(creates).begin();
  HttpClient c(h.port());
  auto reused = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"x":1}})", idem);
  EXPECT_EQ(reused.status, 409);
  EXPECT_EQ(field(reused, "code"), "idempotency_key_reused");
  EXPECT_EQ(h.redis().cmdInt({"ZCARD", "courier:{ws:" + t.workspace + "}:rt:rt1:deadlines"}), 1);

  auto cancels = race([&](HttpClient& c) { return c.del(reqPath("rt1", id), auth(t.user_token)); });
  EXPECT_EQ(count(cancels, 200), kThreads);
  for (const auto& r : cancels) {
    EXPECT_EQ(field(r, "status"), "cancelled");
    EXPECT_EQ(field(r, "version"), "2");
  }

  auto lists = race([&](HttpClient& c) {
    return c.post("/api/runtimes/rt1/requests", R"({"kind":"local_skill_list"})",
                  auth(t.user_token));
  });
  EXPECT_EQ(count(lists, 201), 1);
  EXPECT_EQ(count(lists, 200), kThreads - 1);
  EXPECT_EQ(ids(lists).size(), 1u);
}

// 1000 live requests on a runtime are accepted (from four threads), the 1001st is 429
// queue_full with Retry-After; running requests still count; a cancel makes room for one more.
TEST(FaultIdempotency, TheThousandLiveBound) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      HttpClient c(h.port());
      for (int k = 0; k < 250; ++k) {
        auto r = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token));
        if (r.status == 201) {
          ++created;
        } else {
          ADD_FAILURE() << r.status << " " << r.body;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(created.load(), 1000);
  HttpClient c(h.port());
  auto full = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token));
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_EQ(field(full, "code"), "queue_full");
  EXPECT_TRUE(full.header("Retry-After").has_value());

  auto got = claimedOf(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 0, 5), daemonHeaders(t.daemon_token, "d")));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token)).status,
            429);
  ASSERT_EQ(c.del(reqPath("rt1", got[0].id), auth(t.user_token)).status, 200);
  EXPECT_EQ(c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token)).status,
            201);
  EXPECT_EQ(c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token)).status,
            429);
}

// --- 7. bounded memory -------------------------------------------------------------------------

// With short retentions, 2000 pings run through two nodes, and 30 more go to a runtime whose
// daemon is gone and that nobody reads. Once retention (and the safety TTL of the orphans, of the
// Idempotency-Key index and of the runtimes' queues: attempts x (pending + running timeout) +
// retention, of the longest-lived kind) has passed,
// Redis holds no request record, no stream entry, no pending entry, and has as many keys as before
// the run but for the emptied streams; the orphan read once ended as timeout.
TEST(FaultMemory, RequestsAndStreamsExpireAfterRetention) {
  Harness h(2, kindsArgs(allKinds(R"({"pending_timeout_ms":5000,"running_timeout_ms":5000,)"
                                  R"("retention_ms":1000,"max_attempts":1})")));
  Tenant t = h.tenant();
  const std::vector<std::string> rts = {"rt0", "rt1"};
  for (const auto& rt : rts) h.runtime(t, rt);
  h.runtime(t, "orphan");
  RedisServer& redis = h.redis();
  long long keys_before = redis.cmdInt({"DBSIZE"});
  const std::string prefix = "courier:{ws:" + t.workspace + "}:";

  for (int i = 0; i < 30; ++i) h.create(t, "orphan", "ping", "{}", i % 2);
  auto orphan_read = std::async(std::launch::async, [&] {
    std::string id = h.create(t, "orphan");
    HttpClient c(h.port(1));
    c.setTimeoutMs(30000);
    return c.get(reqPath("orphan", id) + "?wait=20", auth(t.user_token));
  });

  Ports ports(h);
  Ledger ledger;
  LoadOptions o;
  o.claim_wait = 2;
  o.claim_max = 20;
  o.extend = true;
  std::atomic<bool> frontends_done{false};
  auto deadline = std::chrono::steady_clock::now() + 20s;
  auto stop = [&] {
    return (frontends_done && ledger.ended.load() >= static_cast<int>(ledger.createdCount())) ||
           std::chrono::steady_clock::now() > deadline;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(
        [&, i] { runDaemon(ports, i % 2, t, rts, "d" + std::to_string(i), o, ledger, stop); });
  }
  std::vector<std::thread> frontends;
  for (int i = 0; i < 4; ++i) {
    frontends.emplace_back(
        [&, i] { runFrontend(ports, t, rts, "f" + std::to_string(i), 500, o, ledger); });
  }
  for (auto& th : frontends) th.join();
  frontends_done = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(ledger.createdCount(), 2000u);
  EXPECT_EQ(ledger.ended.load(), 2000);
  {
    std::lock_guard<std::mutex> lock(ledger.mu);
    for (const auto& f : ledger.failures) ADD_FAILURE() << f;
  }
  // Streams hold only live requests: the served ones are empty as soon as all have ended.
  for (const auto& rt : rts) {
    EXPECT_EQ(redis.cmdInt({"XLEN", prefix + "rt:" + rt + ":q:ping"}), 0) << rt;
    EXPECT_EQ(lines(redis.cmd({"XPENDING", prefix + "rt:" + rt + ":q:ping", "daemons"})).at(0), "0")
        << rt;
  }
  auto orphan = orphan_read.get();
  EXPECT_EQ(field(orphan, "status"), "timeout") << orphan.body;
  long long peak_keys = redis.cmdInt({"DBSIZE"});

  auto keysLike = [&](const std::string& pattern) { return lines(redis.cmd({"KEYS", pattern})); };
  // Records expire after their retention (or, never ended, their safety TTL); the
  // Idempotency-Key index entries the frontends made expire with the safety TTL too.
  EXPECT_TRUE(eventually(
      [&] { return keysLike("*:req:*").empty() && keysLike("*:idem:*").empty(); }, 30000))
      << keysLike("*:req:*").size() << " request records and " << keysLike("*:idem:*").size()
      << " idempotency keys left";
  long long streams = 0;
  for (const auto& key : keysLike("*")) {
    if (redis.cmd({"TYPE", key}) != "stream") continue;
    ++streams;
    EXPECT_EQ(redis.cmdInt({"XLEN", key}), 0) << key;
    EXPECT_EQ(lines(redis.cmd({"XPENDING", key, "daemons"})).at(0), "0") << key;
    auto info = lines(redis.cmd({"XINFO", "CONSUMERS", key, "daemons"}));
    for (size_t i = 0; i + 1 < info.size(); ++i) {
      if (info[i] == "pending") {
        EXPECT_EQ(info[i + 1], "0") << key;
      }
    }
  }
  // DBSIZE also counts keys whose TTL has passed until Redis's expiry cycle reclaims them.
  long long keys_after = 0;
  EXPECT_TRUE(eventually(
      [&] {
        keys_after = redis.cmdInt({"DBSIZE"});
        return keys_after <= keys_before + streams;
      },
      15000))
      << keys_after << " keys, " << keys_before << " before the run; now:\n"
      << redis.cmd({"KEYS", "*"});
  std::cout << "[ info ] keys: " << keys_before << " before, " << peak_keys << " after the load, "
            << keys_after << " after retention (" << streams << " empty streams); used_memory "
            << usedMemory(redis) << " bytes\n";
}

// Long-polls whose clients vanish are released, not leaked: 100 GETs and 100 claims are parked
// over raw sockets and the sockets closed; the node's parked gauges return to 0 and its open file
// descriptors to what they were, and it still serves.
TEST(FaultMemory, ParkedCallsOfVanishedClientsAreReleased) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  auto fds = [&] {
    int n = 0;
    for (const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(h.node().pid()) + "/fd")) {
      (void)e;
      ++n;
    }
    return n;
  };
  auto parked = [&](const std::string& type) {
    HttpClient m(h.port());
    return metricValue(m.get("/metrics").body, "courier_parked{type=\"" + type + "\"}");
  };
  int fds_before = fds();
  std::vector<std::unique_ptr<HttpClient>> gone;
  for (int i = 0; i < 200; ++i) {
    gone.push_back(std::make_unique<HttpClient>(h.port()));
    std::string raw;
    if (i % 2) {
      raw = "GET " + reqPath("rt1", id) + "?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            t.user_token + "\r\n\r\n";
    } else {
      std::string body = claimBody({"rt1"}, 60);
      raw = "POST /api/daemon/claim HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            t.daemon_token + "\r\nX-Courier-Consumer: gone" + std::to_string(i) +
            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    ASSERT_TRUE(gone.back()->sendRaw(raw));
  }
  // The one pending request goes to one of the claims; the other 99 claims and 100 GETs park.
  EXPECT_TRUE(eventually([&] { return parked("get") == 100 && parked("claim") == 99; }))
      << parked("get") << " GETs and " << parked("claim") << " claims parked";
  gone.clear();  // every client vanishes
  EXPECT_TRUE(eventually([&] { return parked("get") == 0 && parked("claim") == 0; }))
      << parked("get") << " GETs and " << parked("claim") << " claims still parked";
  EXPECT_TRUE(eventually([&] { return fds() <= fds_before + 2; }))
      << fds() << " descriptors open, " << fds_before << " before";
  HttpClient c(h.port());
  EXPECT_EQ(field(c.get(reqPath("rt1", id), auth(t.user_token)), "status"), "running");
}

// --- 8. graceful shutdown ----------------------------------------------------------------------

// SIGTERM on a node with parked GETs (on pending and running requests, with and without
// `version`) and parked claims: each is answered at once with its current state, the node exits
// 0, and the GETs re-issued on the other node get the results.
TEST(FaultShutdown, SigtermAnswersEveryParkedCallWithItsStateAndExitsZero) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  h.runtime(t, "idle");
  for (int i = 0; i < 7; ++i) h.create(t, "rt1");
  HttpClient d(h.port(0));
  auto got = claimedOf(
      d.post("/api/daemon/claim", claimBody({"rt1"}, 0, 100), daemonHeaders(t.daemon_token, "d")));
  ASSERT_EQ(got.size(), 7u);
  // Parked on node 1: GETs for terminal on the seven running requests, GETs with version=2
  // (woken by the next change) on two of them, and claims on the idle runtime.
  std::vector<std::future<HttpResponse>> gets, versioned, claims;
  for (const auto& g : got) {
    gets.push_back(std::async(std::launch::async, [&, id = g.id] {
      HttpClient c(h.port(1));
      c.setTimeoutMs(30000);
      return c.get(reqPath("rt1", id) + "?wait=50", auth(t.user_token));
    }));
  }
  for (int i = 0; i < 2; ++i) {
    versioned.push_back(std::async(std::launch::async, [&, id = got[i].id] {
      HttpClient c(h.port(1));
      c.setTimeoutMs(30000);
      return c.get(reqPath("rt1", id) + "?wait=50&version=2", auth(t.user_token));
    }));
  }
  for (int i = 0; i < 4; ++i) {
    claims.push_back(std::async(std::launch::async, [&, i] {
      HttpClient c(h.port(1));
      c.setTimeoutMs(30000);
      return c.post("/api/daemon/claim", claimBody({"idle"}, 50),
                    daemonHeaders(t.daemon_token, "p" + std::to_string(i)));
    }));
  }
  // An event stream is closed too (its client reconnects elsewhere).
  auto events = std::async(std::launch::async, [&, id = got[0].id] {
    HttpClient c(h.port(1));
    c.setTimeoutMs(30000);
    return c.get(reqPath("rt1", id) + "/events", auth(t.user_token));
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(h.node(1).terminate(10000), 0);
  // Answered and drained, not cut off by the grace period.
  EXPECT_EQ(h.node(1).log().find("grace period over"), std::string::npos) << h.node(1).log();
  auto stream = events.get();
  EXPECT_EQ(stream.status, 200) << stream.body;
  EXPECT_NE(stream.body.find("event: state"), std::string::npos) << stream.body;
  for (auto& f : gets) {
    auto r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(field(r, "status"), "running") << r.body;
  }
  for (auto& f : versioned) {
    auto r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(field(r, "version"), "2") << r.body;
  }
  for (auto& f : claims) {
    auto r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"requests":[]})");
  }
  // The clients go to the surviving node and get the results there.
  for (const auto& g : got) {
    ASSERT_EQ(
        field(d.post(resultPath("rt1", g.id), reportBody(g.attempt, "d"), auth(t.daemon_token)),
              "status"),
        "ok");
    auto r = d.get(reqPath("rt1", g.id) + "?wait=10", auth(t.user_token));
    EXPECT_EQ(field(r, "status"), "completed") << r.body;
  }
}

// SIGTERM while Redis stalls, with a create in flight: the node does not wait for Redis forever.
// The in-flight create is answered 503 once the node gives up on the stalled link, and the node
// exits 0 (the API's bound is 5 s; the command timeout is 2 s).
TEST(FaultShutdown, SigtermWhileRedisStallsAnswersInFlightCallsAndExitsZero) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  h.redis().pause();
  auto create = std::async(std::launch::async, [&] {
    HttpClient c(h.port());
    c.setTimeoutMs(15000);
    return c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token));
  });
  auto get = std::async(std::launch::async, [&] {
    HttpClient c(h.port());
    c.setTimeoutMs(15000);
    return c.get(reqPath("rt1", id) + "?wait=30", auth(t.user_token));
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(h.node().terminate(10000), 0);
  auto r = create.get();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(field(r, "code"), "store_unavailable");
  auto g = get.get();
  EXPECT_EQ(g.status, 503) << g.body;
  h.redis().resume();
}

// A rolling restart of three nodes under light load: one node at a time gets SIGTERM (exit 0) and
// is started again on a fresh port, while frontends create and long-poll and daemons claim,
// extend and report. A call that finds its node unavailable is retried once on another node, and
// that retry always succeeds; nothing is lost, and every request is completed exactly once.
TEST(FaultShutdown, RollingRestartOfThreeNodesUnderLoadLosesNothing) {
  Harness h(3, kindsArgs(R"({"ping":{"claim_lease_ms":1000}})"));
  Tenant t = h.tenant();
  const std::vector<std::string> rts = {"rt0", "rt1"};
  for (const auto& rt : rts) h.runtime(t, rt);
  Ports ports(h);
  Ledger ledger;
  LoadOptions o;
  o.tries = 2;  // one retry, on another node
  o.claim_wait = 2;
  o.extend = true;
  std::atomic<bool> restarts_done{false};
  std::atomic<bool> frontends_done{false};
  auto deadline = std::chrono::steady_clock::now() + 40s;
  auto stop = [&] {
    return (frontends_done && ledger.ended.load() >= static_cast<int>(ledger.createdCount())) ||
           std::chrono::steady_clock::now() > deadline;
  };
  std::vector<std::thread> daemons;
  for (int i = 0; i < 3; ++i) {
    daemons.emplace_back(
        [&, i] { runDaemon(ports, i, t, rts, "d" + std::to_string(i), o, ledger, stop); });
  }
  // Frontends: create, then long-poll the request until it ends, re-issuing the GET when a
  // shutting-down node answers it early with the current state.
  std::vector<std::thread> frontends;
  for (int i = 0; i < 2; ++i) {
    frontends.emplace_back([&, i] {
      Pool pool;
      for (int k = 0; !restarts_done || k < 20; ++k) {
        const std::string& rt = rts[k % 2];
        std::string id =
            createOne(ports, pool, t, rt, "f" + std::to_string(i) + "-" + std::to_string(k), i + k,
                      o, ledger);
        if (id.empty()) continue;  // recorded as a failure
        for (int round = 0; round < 10; ++round) {
          int used = 0;
          auto r = failover(
              pool, ports, i + k, o.tries,
              [&](HttpClient& c) {
                return c.get(reqPath(rt, id) + "?wait=10", auth(t.user_token));
              },
              &used);
          if (r.status != 200) {
            ledger.fail("GET " + id + " after " + std::to_string(used) +
                        " node(s): " + std::to_string(r.status) + " " + r.body);
            break;
          }
          if (terminal(field(r, "status"))) break;
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }

  for (int n = 0; n < 3; ++n) {
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(h.node(n).terminate(10000), 0) << "node " << n;
    EXPECT_EQ(h.node(n).log().find("grace period over"), std::string::npos) << h.node(n).log();
    bool started = h.node(n).start();  // no ASSERT while the load threads run
    EXPECT_TRUE(started) << "node " << n;
    if (!started) break;
    ports.set(n, h.port(n));
  }
  std::this_thread::sleep_for(1s);
  restarts_done = true;
  for (auto& th : frontends) th.join();
  frontends_done = true;
  for (auto& th : daemons) th.join();
  EXPECT_GT(ledger.createdCount(), 0u);
  expectEveryRequestCompletedOnce(ports, {0, 1, 2}, t, ledger);
  std::cout << "[ info ] " << ledger.createdCount() << " requests through a rolling restart, "
            << ledger.redeliveries.load() << " redeliveries\n";
}

}  // namespace
}  // namespace courier::testing
