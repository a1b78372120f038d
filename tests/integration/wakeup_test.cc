// What a long-poll costs in Redis: a GET woken by the end of its request answers from the record
// the wake-up carries (no read), unless that record is too large to carry; and the answer is
// the record a read would return, byte for byte. Counted with the node's own
// courier_redis_commands_total (its command connection's round trips; tests run one worker).
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

std::string reqPath(const std::string& rt, const std::string& id) {
  return "/api/runtimes/" + rt + "/requests/" + id;
}

double redisCommands(HttpClient& c) {
  return metricValue(c.get("/metrics").body, "courier_redis_commands_total");
}

// A daemon's claim on rt1, parked (wait 30 s) on `node` from another thread.
std::future<HttpResponse> parkClaim(Harness& h, const Tenant& t, const std::string& consumer,
                                    int node = 0) {
  return std::async(std::launch::async, [&h, &t, consumer, node] {
    HttpClient d(h.port(node));
    return d.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":30})",
                  daemonHeaders(t.daemon_token, consumer));
  });
}

// Polls the node until `done` holds (10 s at most): a condition, not a timing assumption.
template <class F>
bool waitUntil(F&& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Waits until the node has made `n` more Redis round trips than `from` (a parked call's read:
// it runs only once its channel is acknowledged, and parks in the same callback).
void waitForCommands(HttpClient& c, double from, double n) {
  ASSERT_TRUE(waitUntil([&] { return redisCommands(c) >= from + n; }));
}

// parkClaim, returning once the claim has read and parked. The daemon token is put in the
// node's cache first (a claim with no wait, which must find nothing to take), so that the one
// round trip waited for is the claim's read.
std::future<HttpResponse> parkedClaim(Harness& h, const Tenant& t, HttpClient& c,
                                      const std::string& consumer) {
  auto warm = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":0})",
                     daemonHeaders(t.daemon_token, consumer));
  EXPECT_EQ(warm.body, R"({"requests":[]})");
  double from = redisCommands(c);
  auto claim = parkClaim(h, t, consumer);
  waitForCommands(c, from, 1);
  return claim;
}

// The node's Redis round trips so far, once every command it has sent is answered: a list of
// runtimes is one command more, answered after all those sent before it (one pipelined
// connection per worker; tests run one). Its own lists are not counted. The user token must
// be in the node's cache — the first call, which serves as the baseline, puts it there.
class SettledCommands {
 public:
  SettledCommands(HttpClient& c, std::string user_token) : c_(c), token_(std::move(user_token)) {}
  double operator()() {
    EXPECT_EQ(c_.get("/api/runtimes", auth(token_)).status, 200);
    return redisCommands(c_) - static_cast<double>(++lists_);
  }

 private:
  HttpClient& c_;
  std::string token_;
  int lists_ = 0;
};

double parkedCount(HttpClient& c, const char* type) {
  return metricValue(c.get("/metrics").body,
                     std::string(R"(courier_parked{type=")") + type + R"("})");
}

struct WokenGet {
  HttpResponse woken;       // the parked GET's answer
  HttpResponse read_after;  // a plain GET afterwards
  double commands_for_report_and_wake = 0;
};

// Parks a GET on a running request, then reports `result`; counts the node's Redis round trips
// from just before the report until the parked GET has answered.
WokenGet reportWhileParked(Harness& h, const Tenant& t, const std::string& result) {
  std::string id = h.create(t, "rt1");
  HttpClient c(h.port());
  auto claim = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":5})",
                      daemonHeaders(t.daemon_token, "d1"));
  EXPECT_EQ(claim.status, 200) << claim.body;
  // A read of it: by its reply, the node has seen the claim's 'running' wake-up, so the GET
  // below knows the request and parks as it arrives (no read of its own in flight).
  EXPECT_EQ(field(c.get(reqPath("rt1", id), auth(t.user_token)), "status"), "running");
  auto parked = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.get(reqPath("rt1", id) + "?wait=30", auth(t.user_token));
  });
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "get") == 1; }));
  // The daemon token is in the node's token cache again (a lease call), so the report's
  // authentication costs no round trip in the window measured.
  EXPECT_EQ(c.post("/api/daemon/runtimes/rt1/requests/" + id + "/lease", R"({"attempt":1})",
                   auth(t.daemon_token))
                .status,
            200);
  WokenGet out;
  double before = redisCommands(c);
  auto report =
      c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
             R"({"attempt":1,"status":"completed","result":)" + result + "}", auth(t.daemon_token));
  EXPECT_EQ(report.status, 200) << report.body;
  out.woken = parked.get();
  out.commands_for_report_and_wake = redisCommands(c) - before;
  out.read_after = c.get(reqPath("rt1", id), auth(t.user_token));
  return out;
}

TEST(Wakeup, GetWokenByTheEndAnswersFromTheWakeUpWithoutARead) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  auto r = reportWhileParked(h, t, R"({"models":[{"id":"m/1","label":"Ünïcode \"q\""}]})");
  ASSERT_EQ(r.woken.status, 200) << r.woken.body;
  EXPECT_EQ(field(r.woken, "status"), "completed");
  EXPECT_EQ(r.woken.body, r.read_after.body);
  EXPECT_EQ(r.commands_for_report_and_wake, 1) << "the report's script, and no read";
}

TEST(Wakeup, LargeResultsAreReadNotCarried) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string big = R"({"blob":")" + std::string(20000, 'x') + R"("})";
  auto r = reportWhileParked(h, t, big);
  ASSERT_EQ(r.woken.status, 200) << r.woken.body;
  EXPECT_EQ(field(r.woken, "status"), "completed");
  EXPECT_EQ(r.woken.body, r.read_after.body);
  EXPECT_EQ(r.commands_for_report_and_wake, 2) << "the report's script, then the GET's read";
}

TEST(Wakeup, TimeoutsAndCancelsCarryTheRecordToo) {
  Harness h(1, {"--kinds", R"({"ping": {"pending_timeout_ms": 1500}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  // Pending timeout: applied by the parked GET's own timer, ended by the read it runs.
  std::string timed_out = h.create(t, "rt1");
  auto r = c.get(reqPath("rt1", timed_out) + "?wait=30", auth(t.user_token));
  EXPECT_EQ(field(r, "status"), "timeout");
  EXPECT_EQ(r.body, c.get(reqPath("rt1", timed_out), auth(t.user_token)).body);

  // Cancel from another connection reaches a parked GET with the record in the wake-up.
  std::string cancelled = h.create(t, "rt1");
  auto parked = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.get(reqPath("rt1", cancelled) + "?wait=30", auth(t.user_token));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto del = c.del(reqPath("rt1", cancelled), auth(t.user_token));
  ASSERT_EQ(del.status, 200) << del.body;
  auto woken = parked.get();
  EXPECT_EQ(field(woken, "status"), "cancelled");
  EXPECT_EQ(woken.body, del.body);
  EXPECT_EQ(woken.body, c.get(reqPath("rt1", cancelled), auth(t.user_token)).body);
}

// A GET for a request this node already knows from its runtime's wake-ups parks at once: no
// first read. A parked claim keeps the runtime's channel subscribed before the request exists.
TEST(Wakeup, GetOnARequestKnownFromWakeUpsParksWithoutARead) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  SettledCommands settled(c, t.user_token);
  auto claim = parkClaim(h, t, "d1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string id = h.create(t, "rt1");
  ASSERT_EQ(claim.get().status, 200);  // running now, version 2, and this node saw it happen
  // Warm the user token (a plain GET reads once) before counting.
  ASSERT_EQ(field(c.get(reqPath("rt1", id), auth(t.user_token)), "version"), "2");

  double before = settled();
  auto parked = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.get(reqPath("rt1", id) + "?wait=30", auth(t.user_token));
  });
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "get") == 1; }));
  EXPECT_EQ(settled() - before, 0) << "the parked GET read nothing";

  auto report =
      c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
             R"({"attempt":1,"status":"completed","result":{"ok":1}})", auth(t.daemon_token));
  ASSERT_EQ(report.status, 200) << report.body;
  auto woken = parked.get();
  EXPECT_EQ(field(woken, "status"), "completed");
  EXPECT_EQ(woken.body, c.get(reqPath("rt1", id), auth(t.user_token)).body);
}

// Parked unread, a GET still meets the request's deadline: its timer is the one the wake-up
// announced, and the read it runs then applies the deadline.
TEST(Wakeup, GetParkedUnreadStillMeetsTheDeadline) {
  Harness h(1, {"--kinds", R"({"ping": {"pending_timeout_ms": 1500}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  // A GET parked on a long-lived request of rt1 keeps the runtime's channel subscribed.
  std::string other = h.create(t, "rt1", "model_list");
  double at_start = redisCommands(c);
  auto keeper = std::async(std::launch::async, [&] {
    HttpClient a(h.port());
    return a.get(reqPath("rt1", other) + "?wait=10", auth(t.user_token));
  });
  waitForCommands(c, at_start, 1);  // its read, once the channel was acknowledged
  std::string id = h.create(t, "rt1");
  // A read of it: by its reply, the node has seen the create's 'pending' wake-up.
  ASSERT_EQ(field(c.get(reqPath("rt1", id), auth(t.user_token)), "status"), "pending");
  double before = redisCommands(c);
  auto r = c.get(reqPath("rt1", id) + "?wait=30", auth(t.user_token));
  EXPECT_EQ(field(r, "status"), "timeout") << r.body;
  EXPECT_EQ(field(r, "version"), "2");
  EXPECT_EQ(redisCommands(c) - before, 1) << "one read: at the deadline, none before";
  EXPECT_EQ(field(keeper.get(), "status"), "pending");
}

// A create on the node where the runtime's daemon has a claim parked hands the request to that
// claim in its own script: the claim answers without a wake-up or a claim script of its own.
TEST(Handoff, CreateHandsTheRequestToAClaimParkedOnTheSameNode) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  auto claim = parkedClaim(h, t, c, "d1");
  // Warm the user token, so the create's authentication costs no round trip.
  ASSERT_EQ(c.get("/api/runtimes", auth(t.user_token)).status, 200);
  double before = redisCommands(c);
  auto created = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token));
  ASSERT_EQ(created.status, 201) << created.body;
  // The record as created.
  EXPECT_EQ(field(created, "status"), "pending");
  EXPECT_EQ(field(created, "version"), "1");
  auto claimed = claim.get();
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_EQ(redisCommands(c) - before, 1) << "the create's script alone";
  auto doc = claimed.json();
  ASSERT_EQ(doc["requests"].Size(), 1u) << claimed.body;
  EXPECT_EQ(std::string(doc["requests"][0]["id"].GetString()), field(created, "id"));
  EXPECT_EQ(doc["requests"][0]["attempt"].GetInt(), 1);

  std::string path = reqPath("rt1", field(created, "id"));
  auto now = c.get(path, auth(t.user_token));
  EXPECT_EQ(field(now, "status"), "running");
  EXPECT_EQ(field(now, "version"), "2");
  EXPECT_EQ(field(now, "attempt"), "1");
  // It is the claim's as any other: reported with its attempt, it completes.
  auto report = c.post("/api/daemon/runtimes/rt1/requests/" + field(created, "id") + "/result",
                       R"({"attempt":1,"status":"completed","result":{}})", auth(t.daemon_token));
  EXPECT_EQ(field(report, "status"), "ok") << report.body;
  EXPECT_EQ(field(c.get(path, auth(t.user_token)), "status"), "completed");
}

// A create that is not new (an idempotent repeat) hands nothing: the reserved claim reads and
// parks again, and takes the next request.
TEST(Handoff, ACreateThatHandsNothingLeavesTheClaimParked) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  SettledCommands settled(c, t.user_token);
  Headers with_key = auth(t.user_token);
  with_key.emplace_back("Idempotency-Key", "k1");
  auto first = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", with_key);
  ASSERT_EQ(first.status, 201);
  // The first request goes to a claim that answers at once.
  auto taken = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":0})",
                      daemonHeaders(t.daemon_token, "d1"));
  ASSERT_EQ(taken.json()["requests"].Size(), 1u);

  auto claim = parkedClaim(h, t, c, "d2");
  double before = settled();
  auto again = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", with_key);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(field(again, "id"), field(first, "id"));
  EXPECT_EQ(settled() - before, 1) << "the create's script; the claim parks as it was";
  // Still parked after the repeat: the next request is the claim's answer.
  std::string next = h.create(t, "rt1");
  auto claimed = claim.get();
  ASSERT_EQ(claimed.status, 200);
  ASSERT_EQ(claimed.json()["requests"].Size(), 1u) << claimed.body;
  EXPECT_EQ(std::string(claimed.json()["requests"][0]["id"].GetString()), next);
}

// A read that found a runtime idle lets the next claim on it park without a read, until a
// 'pending' wake-up says otherwise; creates still reach such claims (by handoff here).
TEST(IdleClaims, ASecondClaimOnAnIdleRuntimeParksWithoutARead) {
  Harness h(2);
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port(0));
  SettledCommands settled(c, t.user_token);
  auto a = parkedClaim(h, t, c, "a");  // read: nothing, so rt1 is idle on node 0
  // (A claim with no wait puts b's token in the cache: one read, before counting.)
  ASSERT_EQ(c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":0})",
                   daemonHeaders(t.daemon_token, "b"))
                .body,
            R"({"requests":[]})");
  double before = settled();
  auto b = parkClaim(h, t, "b");
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "claim") == 2; }));
  EXPECT_EQ(settled() - before, 0) << "claim b parked without reading";

  // Both still get work: creates on node 0 hand it over, first come first served.
  std::string first = h.create(t, "rt1", "ping", "{}", 0);
  std::string second = h.create(t, "rt1", "ping", "{}", 0);
  auto got_a = a.get().json();
  auto got_b = b.get().json();
  ASSERT_EQ(got_a["requests"].Size(), 1u);
  ASSERT_EQ(got_b["requests"].Size(), 1u);
  EXPECT_EQ(std::string(got_a["requests"][0]["id"].GetString()), first);
  EXPECT_EQ(std::string(got_b["requests"][0]["id"].GetString()), second);

  // Handoffs publish no 'pending' wake-up: rt1 is still idle, claim c parks unread. A create
  // on another node is a 'pending' wake-up here: it wakes c, which reads and takes it.
  auto c1 = parkClaim(h, t, "c");
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "claim") == 1; }));
  std::string third = h.create(t, "rt1", "ping", "{}", 1);
  auto got_c = c1.get().json();
  ASSERT_EQ(got_c["requests"].Size(), 1u);
  EXPECT_EQ(std::string(got_c["requests"][0]["id"].GetString()), third);
  // (c took 1 of 10: drained, rt1 is idle again.) A create on the other node while no claim is
  // parked here is a 'pending' wake-up: rt1 is no longer known idle, the next claim reads.
  std::string fourth = h.create(t, "rt1", "ping", "{}", 1);
  // (Registering rt1 again puts the daemon token back in node 0's cache.)
  ASSERT_EQ(c.post("/api/daemon/runtimes", R"({"id":"rt1","name":"rt1","owner_user_id":"alice"})",
                   auth(t.daemon_token))
                .status,
            200);
  before = settled();  // by its reply, node 0 has seen the 'pending' wake-up
  auto d = parkClaim(h, t, "d");
  EXPECT_EQ(std::string(d.get().json()["requests"][0]["id"].GetString()), fourth);
  EXPECT_EQ(settled() - before, 1) << "after a 'pending' wake-up, claim d reads";
}

// A claim read that took fewer requests than it could left nothing claimable: the runtime is
// idle after it too.
TEST(IdleClaims, AClaimThatDrainedTheQueueLeavesTheRuntimeIdle) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  SettledCommands settled(c, t.user_token);
  std::string id = h.create(t, "rt1");  // pending: no claim is parked
  auto a = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":30,"max":10})",
                  daemonHeaders(t.daemon_token, "a"));
  ASSERT_EQ(a.json()["requests"].Size(), 1u) << a.body;  // 1 of 10: drained
  double before = settled();
  auto b = parkClaim(h, t, "a");  // the same daemon, back for more (its token is cached)
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "claim") == 1; }));
  EXPECT_EQ(settled() - before, 0) << "the claim parked without reading";
  std::string next = h.create(t, "rt1");
  EXPECT_EQ(std::string(b.get().json()["requests"][0]["id"].GetString()), next);
}

// Only a claim that waits concludes anything: one with no wait is in no channel's list, so the
// 'pending' wake-ups that would make its finding stale never reach it.
TEST(IdleClaims, AClaimWithNoWaitDoesNotMarkTheRuntimeIdle) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  SettledCommands settled(c, t.user_token);
  auto a = parkedClaim(h, t, c, "a");  // subscribes rt1 here (it lingers after a answers)
  std::string handed = h.create(t, "rt1");
  EXPECT_EQ(std::string(a.get().json()["requests"][0]["id"].GetString()), handed);
  std::string id = h.create(t, "rt1");  // no claim parked: pending
  auto taken = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":0,"max":10})",
                      daemonHeaders(t.daemon_token, "b"));
  ASSERT_EQ(taken.json()["requests"].Size(), 1u) << taken.body;  // 1 of 10, but no wait
  double before = settled();
  auto b = parkClaim(h, t, "b");
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "claim") == 1; }));
  EXPECT_EQ(settled() - before, 1) << "the next claim reads";
  std::string next = h.create(t, "rt1");
  EXPECT_EQ(std::string(b.get().json()["requests"][0]["id"].GetString()), next);
}

// An idle runtime stops being idle when a lease may lapse: claims parked unread still wake
// when a crashed daemon's lease runs out, and one of them takes the redelivery.
TEST(IdleClaims, AClaimParkedUnreadStillTakesALapsedLease) {
  Harness h(1, {"--kinds", R"({"ping": {"claim_lease_ms": 1000}})"});
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  // A daemon takes a request and "crashes" (never extends or reports).
  std::string id = h.create(t, "rt1");
  auto taken = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":0})",
                      daemonHeaders(t.daemon_token, "crashed"));
  ASSERT_EQ(taken.json()["requests"].Size(), 1u);
  // Two daemons park: the first read finds nothing (rt1 idle until the lease's deadline), the
  // second parks unread.
  auto a = parkedClaim(h, t, c, "a");
  auto b = parkClaim(h, t, "b");
  EXPECT_TRUE(waitUntil([&] { return parkedCount(c, "claim") == 2; }));
  // One of them gets the redelivery (attempt 2) when the lease lapses; the other the next
  // request.
  std::string next;
  auto first_done = [&]() -> std::future<HttpResponse>& {
    for (;;) {
      if (a.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) return a;
      if (b.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) return b;
    }
  };
  std::future<HttpResponse>& got = first_done();
  std::future<HttpResponse>& other = &got == &a ? b : a;
  auto redelivered = got.get().json();
  ASSERT_EQ(redelivered["requests"].Size(), 1u);
  EXPECT_EQ(std::string(redelivered["requests"][0]["id"].GetString()), id);
  EXPECT_EQ(redelivered["requests"][0]["attempt"].GetInt(), 2);
  next = h.create(t, "rt1");
  EXPECT_EQ(std::string(other.get().json()["requests"][0]["id"].GetString()), next);
}

}  // namespace
}  // namespace courier::testing
