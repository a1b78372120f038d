// The life of a request over real node processes, a real redis-server and loopback HTTP.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

std::string claimBody(const std::vector<std::string>& rts, int wait, int max = 10) {
  std::string ids;
  for (const auto& rt : rts) ids += (ids.empty() ? "\"" : ",\"") + rt + "\"";
  return R"({"runtime_ids":[)" + ids + R"(],"wait":)" + std::to_string(wait) + R"(,"max":)" +
         std::to_string(max) + "}";
}

struct Claimed {
  std::string id, runtime_id, kind;
  int64_t attempt = 0;
};

std::vector<Claimed> claimed(const HttpResponse& r) {
  std::vector<Claimed> out;
  auto doc = r.json();
  if (!doc.IsObject() || !doc.HasMember("requests")) return out;
  for (const auto& v : doc["requests"].GetArray()) {
    out.push_back({v["id"].GetString(), v["runtime_id"].GetString(), v["kind"].GetString(),
                   v["attempt"].GetInt64()});
  }
  return out;
}

std::string reportBody(int64_t attempt, const std::string& status = "completed",
                       const std::string& result = R"({"pong":true})") {
  return R"({"attempt":)" + std::to_string(attempt) + R"(,"status":")" + status + R"(","result":)" +
         result + "}";
}

std::string reqPath(const std::string& rt, const std::string& id) {
  return "/api/runtimes/" + rt + "/requests/" + id;
}
std::string resultPath(const std::string& rt, const std::string& id) {
  return "/api/daemon/runtimes/" + rt + "/requests/" + id + "/result";
}

TEST(Lifecycle, FullRoundTrip) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());

  auto created = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(field(created, "status"), "pending");
  EXPECT_EQ(field(created, "version"), "1");
  EXPECT_EQ(field(created, "attempt"), "0");
  EXPECT_EQ(field(created, "result"), "null");
  std::string id = field(created, "id");
  EXPECT_GE(id.size(), 21u);

  auto claim =
      c.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "d1"));
  ASSERT_EQ(claim.status, 200) << claim.body;
  auto got = claimed(claim);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].kind, "ping");
  EXPECT_EQ(got[0].attempt, 1);

  auto running = c.get(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(field(running, "status"), "running");
  EXPECT_EQ(field(running, "version"), "2");

  auto lease = c.post("/api/daemon/runtimes/rt1/requests/" + id + "/lease", R"({"attempt":1})",
                      auth(t.daemon_token));
  EXPECT_EQ(lease.status, 200) << lease.body;
  EXPECT_FALSE(field(lease, "lease_expires_at").empty());

  auto report = c.post(resultPath("rt1", id), reportBody(1), auth(t.daemon_token));
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(field(report, "status"), "ok");

  auto done = c.get(reqPath("rt1", id) + "?wait=5", auth(t.user_token));
  ASSERT_EQ(done.status, 200);
  EXPECT_EQ(field(done, "status"), "completed");
  EXPECT_EQ(field(done, "version"), "3");
  auto doc = done.json();
  EXPECT_TRUE(doc["result"]["pong"].GetBool());

  // A retried report of an ended request is acknowledged and ignored.
  auto again = c.post(resultPath("rt1", id), reportBody(1, "failed"), auth(t.daemon_token));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(field(again, "status"), "ignored");
  EXPECT_EQ(field(c.get(reqPath("rt1", id), auth(t.user_token)), "status"), "completed");

  // Streams hold only live requests: the ended entry is acked and deleted.
  EXPECT_EQ(h.redis().cmdInt({"XLEN", "courier:{ws:" + t.workspace + "}:rt:rt1:q:ping"}), 0);
}

TEST(Lifecycle, GetParkedOnOneNodeIsWokenByReportOnAnother) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");

  auto parked = std::async(std::launch::async, [&] {
    HttpClient a(h.port(0));
    return a.get(reqPath("rt1", id) + "?wait=30", auth(t.user_token));
  });
  HttpClient b(h.port(1));
  auto claim =
      b.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "d"));
  ASSERT_EQ(claimed(claim).size(), 1u);
  // Give the GET time to park (its result does not depend on it: it waits for terminal).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(b.post(resultPath("rt1", id), reportBody(1), auth(t.daemon_token)).status, 200);
  auto r = parked.get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(field(r, "status"), "completed");
}

TEST(Lifecycle, GetWithVersionReturnsOnTheNextChange) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  auto parked = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.get(reqPath("rt1", id) + "?wait=30&version=1", auth(t.user_token));
  });
  HttpClient c(h.port());
  ASSERT_EQ(claimed(c.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                           daemonHeaders(t.daemon_token, "d")))
                .size(),
            1u);
  auto r = parked.get();
  EXPECT_EQ(field(r, "status"), "running");
  EXPECT_EQ(field(r, "version"), "2");
}

TEST(Lifecycle, ClaimParkedBeforeTheRequestExistsIsWokenByCreateOnAnotherNode) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  auto parked = std::async(std::launch::async, [&] {
    HttpClient a(h.port(0));
    return a.post("/api/daemon/claim", claimBody({"rt1"}, 30), daemonHeaders(t.daemon_token, "d"));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string id = h.create(t, "rt1", "ping", "{}", 1);
  auto r = parked.get();
  ASSERT_EQ(r.status, 200) << r.body;
  auto got = claimed(r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
}

TEST(Lifecycle, RacingConsumersOnTwoNodesClaimEachRequestExactlyOnce) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  constexpr int kConsumers = 20;
  constexpr int kRequests = 10;
  std::mutex mu;
  std::map<std::string, int> times_claimed;
  std::atomic<int> total{0};
  std::vector<std::thread> consumers;
  for (int i = 0; i < kConsumers; ++i) {
    consumers.emplace_back([&, i] {
      HttpClient c(h.port(i % 2));
      // Each consumer long-polls until all requests are out (bounded by its waits).
      for (int round = 0; round < 20 && total.load() < kRequests; ++round) {
        auto r = c.post("/api/daemon/claim", claimBody({"rt1"}, 2, 1),
                        daemonHeaders(t.daemon_token, "c" + std::to_string(i)));
        for (const auto& got : claimed(r)) {
          std::lock_guard<std::mutex> lock(mu);
          ++times_claimed[got.id];
          ++total;
        }
      }
    });
  }
  std::set<std::string> ids;
  for (int i = 0; i < kRequests; ++i) ids.insert(h.create(t, "rt1", "ping", "{}", i % 2));
  for (auto& th : consumers) th.join();
  EXPECT_EQ(total.load(), kRequests);
  ASSERT_EQ(times_claimed.size(), ids.size());
  for (const auto& [id, n] : times_claimed) {
    EXPECT_TRUE(ids.count(id)) << id;
    EXPECT_EQ(n, 1) << id;
  }
}

TEST(Lifecycle, ClaimWhoseClientHungUpIsReleasedAtOnce) {
  // One attempt only: a release must not use it up.
  Harness h(1, {"--kinds", R"({"ping":{"max_attempts":1}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  {
    // A daemon parks a claim, then vanishes.
    HttpClient gone(h.port());
    std::string body = claimBody({"rt1"}, 30);
    ASSERT_TRUE(gone.sendRaw(
        "POST /api/daemon/claim HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t.daemon_token +
        "\r\nX-Courier-Consumer: gone\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    gone.close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string id = h.create(t, "rt1");
  // The default claim lease is 15 s: had the vanished claim taken the request, this claim (5 s)
  // would come back empty.
  HttpClient c(h.port());
  auto r =
      c.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "alive"));
  auto got = claimed(r);
  ASSERT_EQ(got.size(), 1u) << r.body;
  EXPECT_EQ(got[0].id, id);
  // Attempt numbers only grow (they fence reports), but a release is not a delivery: with one
  // attempt allowed, the request is still handed out, and its report accepted.
  EXPECT_GE(got[0].attempt, 1);
  auto report = c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
                       reportBody(got[0].attempt), auth(t.daemon_token));
  EXPECT_EQ(field(report, "status"), "ok") << report.body;
  // Whichever way it went, one delivery reached a daemon: claimed − released = 1.
  std::string m = c.get("/metrics").body;
  double claimed_n = metricValue(m, R"(courier_requests_claimed_total{kind="ping"})");
  double released_n = metricValue(m, R"(courier_requests_released_total{kind="ping"})");
  EXPECT_EQ(claimed_n - released_n, 1) << claimed_n << " claimed, " << released_n << " released";
  EXPECT_EQ(released_n, got[0].attempt - 1);
}

TEST(Lifecycle, RuntimesAreIsolated) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  h.runtime(t, "rt2");
  std::string id1 = h.create(t, "rt1");
  HttpClient c(h.port());
  auto r = c.post("/api/daemon/claim", claimBody({"rt2"}, 1), daemonHeaders(t.daemon_token, "d"));
  EXPECT_EQ(claimed(r).size(), 0u);
  r = c.post("/api/daemon/claim", claimBody({"rt1", "rt2"}, 1), daemonHeaders(t.daemon_token, "d"));
  auto got = claimed(r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id1);
  EXPECT_EQ(got[0].runtime_id, "rt1");
  // A request is addressed through its own runtime only.
  EXPECT_EQ(c.get(reqPath("rt2", id1), auth(t.user_token)).status, 404);
}

TEST(Lifecycle, OtherWorkspacesSeeNotFound) {
  Harness h;
  Tenant a = h.tenant("alice");
  Tenant b = h.tenant("bob");
  h.runtime(a, "rt1");
  std::string id = h.create(a, "rt1");
  HttpClient c(h.port());
  EXPECT_EQ(c.get(reqPath("rt1", id), auth(b.user_token)).status, 404);
  EXPECT_EQ(c.del(reqPath("rt1", id), auth(b.user_token)).status, 404);
  auto create = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(b.user_token));
  EXPECT_EQ(create.status, 404) << create.body;
  auto claim =
      c.post("/api/daemon/claim", claimBody({"rt1"}, 0), daemonHeaders(b.daemon_token, "d"));
  EXPECT_EQ(claim.status, 404) << claim.body;
  EXPECT_EQ(c.post(resultPath("rt1", id), reportBody(1), auth(b.daemon_token)).status, 404);
  auto list = c.get("/api/runtimes", auth(b.user_token));
  EXPECT_EQ(list.body, R"({"runtimes":[]})");
  // And the owner still sees it pending.
  EXPECT_EQ(field(c.get(reqPath("rt1", id), auth(a.user_token)), "status"), "pending");
}

TEST(Lifecycle, FencingAndRedeliveryWithShortLeases) {
  Harness h(1, {"--kinds", R"({"ping":{"claim_lease_ms":300,"max_attempts":2,)"
                           R"("running_timeout_ms":60000}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  auto first = claimed(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "a")));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt, 1);
  // Daemon a never extends: the lease runs out and the parked claim of b gets attempt 2.
  auto second = claimed(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 10), daemonHeaders(t.daemon_token, "b")));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, id);
  EXPECT_EQ(second[0].attempt, 2);
  // a's late work is fenced off, whether it extends or reports.
  auto lease = c.post("/api/daemon/runtimes/rt1/requests/" + id + "/lease", R"({"attempt":1})",
                      auth(t.daemon_token));
  EXPECT_EQ(lease.status, 409);
  EXPECT_EQ(field(lease, "code"), "lease_lost");
  auto late = c.post(resultPath("rt1", id), reportBody(1), auth(t.daemon_token));
  EXPECT_EQ(late.status, 409);
  EXPECT_EQ(field(late, "code"), "lease_lost");
  ASSERT_EQ(c.post(resultPath("rt1", id), reportBody(2), auth(t.daemon_token)).status, 200);
  auto rec = c.get(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(field(rec, "status"), "completed");
  EXPECT_EQ(field(rec, "attempt"), "2");
}

TEST(Lifecycle, LeaseRunningOutWithNoAttemptsLeftTimesOut) {
  Harness h(1, {"--kinds", R"({"ping":{"claim_lease_ms":200,"max_attempts":1}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  ASSERT_EQ(claimed(c.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                           daemonHeaders(t.daemon_token, "a")))
                .size(),
            1u);
  // Nothing else happens: the parked GET's own timer applies the deadline.
  auto r = c.get(reqPath("rt1", id) + "?wait=20", auth(t.user_token));
  EXPECT_EQ(field(r, "status"), "timeout");
  EXPECT_NE(field(r, "error").find("acknowledge"), std::string::npos) << r.body;
}

TEST(Lifecycle, PendingTimeoutReachesAParkedGet) {
  Harness h(1, {"--kinds", R"({"ping":{"pending_timeout_ms":400}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  auto r = c.get(reqPath("rt1", id) + "?wait=20", auth(t.user_token));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(field(r, "status"), "timeout");
  EXPECT_EQ(field(r, "error"), "daemon did not respond within 0.4 seconds");
  EXPECT_EQ(h.redis().cmdInt({"XLEN", "courier:{ws:" + t.workspace + "}:rt:rt1:q:ping"}), 0);
}

TEST(Lifecycle, RunningTimeoutReachesAParkedGet) {
  Harness h(1, {"--kinds", R"({"ping":{"running_timeout_ms":500}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  ASSERT_EQ(claimed(c.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                           daemonHeaders(t.daemon_token, "a")))
                .size(),
            1u);
  ASSERT_EQ(c.post("/api/daemon/runtimes/rt1/requests/" + id + "/lease", R"({"attempt":1})",
                   auth(t.daemon_token))
                .status,
            200);
  auto r = c.get(reqPath("rt1", id) + "?wait=20", auth(t.user_token));
  EXPECT_EQ(field(r, "status"), "timeout");
  EXPECT_EQ(field(r, "error"), "daemon did not finish within 0.5 seconds");
  // The late report is acknowledged but changes nothing.
  auto late = c.post(resultPath("rt1", id), reportBody(1), auth(t.daemon_token));
  EXPECT_EQ(field(late, "status"), "ignored");
}

TEST(Lifecycle, CancelReachesTheWorkingDaemon) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  ASSERT_EQ(claimed(c.post("/api/daemon/claim", claimBody({"rt1"}, 5),
                           daemonHeaders(t.daemon_token, "a")))
                .size(),
            1u);
  auto cancelled = c.del(reqPath("rt1", id), auth(t.user_token));
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(field(cancelled, "status"), "cancelled");
  auto lease = c.post("/api/daemon/runtimes/rt1/requests/" + id + "/lease", R"({"attempt":1})",
                      auth(t.daemon_token));
  EXPECT_EQ(lease.status, 409);
  EXPECT_EQ(field(lease, "code"), "cancelled");
  auto report = c.post(resultPath("rt1", id), reportBody(1), auth(t.daemon_token));
  EXPECT_EQ(report.status, 409);
  EXPECT_EQ(field(report, "code"), "cancelled");
  // Cancelling again returns it unchanged.
  auto again = c.del(reqPath("rt1", id), auth(t.user_token));
  EXPECT_EQ(field(again, "status"), "cancelled");
  EXPECT_EQ(field(again, "version"), field(cancelled, "version"));
}

TEST(Lifecycle, SurvivesScriptFlush) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  std::string id1 = h.create(t, "rt1");
  EXPECT_EQ(h.redis().cmd({"SCRIPT", "FLUSH"}), "OK");
  std::string id2 = h.create(t, "rt1");
  auto got = claimed(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "a")));
  ASSERT_EQ(got.size(), 2u);
  h.redis().cmd({"SCRIPT", "FLUSH"});
  for (const auto& g : got) {
    EXPECT_EQ(c.post(resultPath("rt1", g.id), reportBody(1), auth(t.daemon_token)).status, 200);
  }
  EXPECT_EQ(field(c.get(reqPath("rt1", id1), auth(t.user_token)), "status"), "completed");
  EXPECT_EQ(field(c.get(reqPath("rt1", id2), auth(t.user_token)), "status"), "completed");
}

TEST(Lifecycle, ParkedGetsSurviveTheSubscriberBeingKilled) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  constexpr int kGets = 5;
  std::vector<std::string> ids;
  for (int i = 0; i < kGets; ++i) ids.push_back(h.create(t, "rt1"));
  std::vector<std::future<HttpResponse>> parked;
  for (const auto& id : ids) {
    parked.push_back(std::async(std::launch::async, [&, id] {
      HttpClient a(h.port());
      return a.get(reqPath("rt1", id) + "?wait=30", auth(t.user_token));
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GE(h.redis().cmdInt({"CLIENT", "KILL", "TYPE", "pubsub"}), 1);
  HttpClient c(h.port());
  auto got = claimed(
      c.post("/api/daemon/claim", claimBody({"rt1"}, 5), daemonHeaders(t.daemon_token, "a")));
  ASSERT_EQ(got.size(), static_cast<size_t>(kGets));
  for (const auto& g : got) {
    ASSERT_EQ(c.post(resultPath("rt1", g.id), reportBody(1), auth(t.daemon_token)).status, 200);
  }
  for (auto& p : parked) {
    auto r = p.get();
    EXPECT_EQ(field(r, "status"), "completed") << r.body;
  }
}

TEST(Lifecycle, SigtermAnswersParkedCallsAndExitsCleanly) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  h.runtime(t, "idle");
  std::string id = h.create(t, "rt1");
  auto get = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.get(reqPath("rt1", id) + "?wait=50", auth(t.user_token));
  });
  auto claim = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.post("/api/daemon/claim", claimBody({"idle"}, 50), daemonHeaders(t.daemon_token, "a"));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(h.node().terminate(10000), 0);
  auto r = get.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(field(r, "status"), "pending");
  auto c = claim.get();
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.body, R"({"requests":[]})");
}

}  // namespace
}  // namespace courier::testing
