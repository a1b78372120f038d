// Bad input always gets a clear error (status, code, message) and never hurts the node.
#include <gtest/gtest.h>

#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

class ApiErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    h_ = new Harness();
    t_ = new Tenant(h_->tenant());
    h_->runtime(*t_, "rt1");
  }
  static void TearDownTestSuite() {
    delete t_;
    delete h_;
  }

  void expectError(const HttpResponse& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(field(r, "code"), code) << r.body;
    EXPECT_FALSE(field(r, "error").empty()) << r.body;
    EXPECT_EQ(r.header("Content-Type").value_or(""), "application/json");
  }

  static Harness* h_;
  static Tenant* t_;
};

Harness* ApiErrors::h_ = nullptr;
Tenant* ApiErrors::t_ = nullptr;

TEST_F(ApiErrors, RoutesAndMethods) {
  HttpClient c(h_->port());
  expectError(c.get("/api/nope"), 404, "not_found");
  auto r = c.request("PUT", "/api/runtimes", "", auth(t_->user_token));
  expectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("Allow").value_or(""), "GET");
  // An unusual method still gets JSON, not evhttp's HTML 501.
  expectError(c.request("PATCH", "/api/daemon/claim", "{}"), 405, "method_not_allowed");
}

TEST_F(ApiErrors, Authentication) {
  HttpClient c(h_->port());
  expectError(c.get("/api/runtimes"), 401, "unauthorized");
  expectError(c.get("/api/runtimes", auth("not-a-token")), 401, "unauthorized");
  expectError(c.get("/api/runtimes", {{"Authorization", "Basic abc"}}), 401, "unauthorized");
  // A valid token of the wrong kind.
  expectError(c.get("/api/runtimes", auth(t_->daemon_token)), 403, "forbidden");
  expectError(
      c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"]})", daemonHeaders(t_->user_token, "d")),
      403, "forbidden");
  expectError(c.post("/api/admin/workspaces", R"({"name":"x"})", auth(t_->user_token)), 403,
              "forbidden");
  // Without a valid token, nothing about the body is revealed.
  expectError(c.post("/api/runtimes/rt1/requests", "{not json", auth("nope")), 401, "unauthorized");
}

TEST_F(ApiErrors, RevokedTokenStopsWorkingWithinFiveSeconds) {
  HttpClient admin(h_->port());
  auto created = admin.post("/api/admin/workspaces/" + t_->workspace + "/tokens",
                            R"({"kind":"user","user_id":"carol"})", auth(Harness::kAdminToken));
  ASSERT_EQ(created.status, 201);
  std::string token = field(created, "token");
  HttpClient c(h_->port());
  ASSERT_EQ(c.get("/api/runtimes", auth(token)).status, 200);
  ASSERT_EQ(
      admin.del("/api/admin/tokens/" + field(created, "id"), auth(Harness::kAdminToken)).status,
      204);
  int status = 200;
  for (int i = 0; i < 60 && status == 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = c.get("/api/runtimes", auth(token)).status;
  }
  EXPECT_EQ(status, 401);
  expectError(admin.del("/api/admin/tokens/" + field(created, "id"), auth(Harness::kAdminToken)),
              404, "not_found");
}

TEST_F(ApiErrors, MalformedBodies) {
  HttpClient c(h_->port());
  auto post = [&](const std::string& body) {
    return c.post("/api/runtimes/rt1/requests", body, auth(t_->user_token));
  };
  expectError(post("{"), 400, "invalid_body");
  expectError(post("[1,2]"), 400, "invalid_body");
  expectError(post(R"({"kind":"ping","kind":"ping"})"), 400, "invalid_body");
  expectError(post(std::string(100, '[') + std::string(100, ']')), 400, "invalid_body");
  expectError(post(std::string(100000, '[')), 400, "invalid_body");
  expectError(post("{\"kind\":\"\xff\xfe\"}"), 400, "invalid_body");
  expectError(post(R"({"payload":{}})"), 400, "invalid_body");
  expectError(post(R"({"kind":7})"), 400, "invalid_body");
  expectError(post(R"({"kind":"fly"})"), 400, "unknown_kind");
  expectError(post(R"({"kind":"ping","payload":[]})"), 400, "invalid_payload");
  expectError(post(R"({"kind":"update","payload":{}})"), 400, "invalid_payload");
  expectError(post(R"({"kind":"local_skill_import","payload":{"skill_key":5}})"), 400,
              "invalid_payload");
  expectError(post(std::string(1100000, ' ') + "{}"), 413, "body_too_large");
  // The node is fine afterwards.
  EXPECT_EQ(post(R"({"kind":"ping"})").status, 201);
}

TEST_F(ApiErrors, IdsAndQueries) {
  HttpClient c(h_->port());
  expectError(c.get("/api/runtimes/rt1/requests/bad!id", auth(t_->user_token)), 400, "invalid_id");
  expectError(c.get("/api/runtimes/" + std::string(65, 'a') + "/requests/x", auth(t_->user_token)),
              400, "invalid_id");
  expectError(c.get("/api/runtimes/rt1/requests/abc?wait=soon", auth(t_->user_token)), 400,
              "invalid_query");
  expectError(c.get("/api/runtimes/rt1/requests/abc?wait=-1", auth(t_->user_token)), 400,
              "invalid_query");
  expectError(c.get("/api/runtimes/rt1/requests/abc?version=x", auth(t_->user_token)), 400,
              "invalid_query");
  expectError(c.get("/api/runtimes/rt1/requests/abc", auth(t_->user_token)), 404, "not_found");
  expectError(c.post("/api/runtimes/nope/requests", R"({"kind":"ping"})", auth(t_->user_token)),
              404, "not_found");
}

TEST_F(ApiErrors, DaemonInput) {
  HttpClient c(h_->port());
  auto claim = [&](const std::string& body, const std::string& consumer = "d") {
    return c.post("/api/daemon/claim", body, daemonHeaders(t_->daemon_token, consumer));
  };
  expectError(c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"]})", auth(t_->daemon_token)),
              400, "invalid_consumer");
  expectError(claim(R"({"runtime_ids":["rt1"]})", "bad consumer!"), 400, "invalid_consumer");
  expectError(claim(R"({"runtime_ids":[]})"), 400, "invalid_body");
  expectError(claim(R"({"runtime_ids":"rt1"})"), 400, "invalid_body");
  expectError(claim(R"({"runtime_ids":["rt1"],"max":0})"), 400, "invalid_body");
  expectError(claim(R"({"runtime_ids":["rt1"],"max":101})"), 400, "invalid_body");
  expectError(claim(R"({"runtime_ids":["rt1"],"wait":"x"})"), 400, "invalid_body");
  auto missing = claim(R"({"runtime_ids":["rt1","ghost"]})");
  expectError(missing, 404, "not_found");
  EXPECT_NE(field(missing, "error").find("ghost"), std::string::npos);

  std::string id = h_->create(*t_, "rt1");
  std::string path = "/api/daemon/runtimes/rt1/requests/" + id + "/result";
  expectError(c.post(path, R"({"attempt":1,"status":"done"})", auth(t_->daemon_token)), 400,
              "invalid_body");
  expectError(c.post(path, R"({"status":"completed"})", auth(t_->daemon_token)), 400,
              "invalid_body");
  expectError(
      c.post(path, R"({"attempt":1,"status":"completed","result":3})", auth(t_->daemon_token)), 400,
      "invalid_body");
  // Not yet claimed: no attempt holds it.
  expectError(c.post(path, R"({"attempt":1,"status":"completed"})", auth(t_->daemon_token)), 409,
              "lease_lost");
  expectError(c.post("/api/daemon/runtimes", R"({"id":"x y","name":"n","owner_user_id":"u"})",
                     auth(t_->daemon_token)),
              400, "invalid_id");
  expectError(c.post("/api/daemon/runtimes", R"({"id":"x"})", auth(t_->daemon_token)), 400,
              "invalid_body");
}

TEST_F(ApiErrors, OfflineRuntimeAndOwnerOnlyKinds) {
  HttpClient c(h_->port());
  ASSERT_EQ(c.post("/api/daemon/runtimes",
                   R"({"id":"cold","name":"never claimed","owner_user_id":"alice"})",
                   auth(t_->daemon_token))
                .status,
            201);
  expectError(c.post("/api/runtimes/cold/requests", R"({"kind":"ping"})", auth(t_->user_token)),
              503, "runtime_offline");
  std::string bob = h_->userToken(*t_, "bob");
  expectError(c.post("/api/runtimes/rt1/requests",
                     R"({"kind":"update","payload":{"target_version":"2"}})", auth(bob)),
              403, "forbidden");
  // A member may still ask for a list.
  EXPECT_EQ(c.post("/api/runtimes/rt1/requests", R"({"kind":"model_list"})", auth(bob)).status,
            201);
}

TEST_F(ApiErrors, IdempotencyCoalescingAndExclusiveUpdates) {
  HttpClient c(h_->port());
  Headers key = auth(t_->user_token);
  key.emplace_back("Idempotency-Key", "order-42");
  auto first = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"a":1}})", key);
  ASSERT_EQ(first.status, 201);
  auto again = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"a":1}})", key);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(field(again, "id"), field(first, "id"));
  // The same payload with its keys in another order is the same request.
  Headers key2 = auth(t_->user_token);
  key2.emplace_back("Idempotency-Key", "order-43");
  auto ab = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"a":1,"b":2}})",
                   key2);
  auto ba = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"b":2,"a":1}})",
                   key2);
  EXPECT_EQ(ab.status, 201);
  EXPECT_EQ(ba.status, 200) << ba.body;
  EXPECT_EQ(field(ba, "id"), field(ab, "id"));
  expectError(c.post("/api/runtimes/rt1/requests", R"({"kind":"ping","payload":{"a":2}})", key),
              409, "idempotency_key_reused");
  Headers bad = auth(t_->user_token);
  bad.emplace_back("Idempotency-Key", "no spaces");
  expectError(c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", bad), 400,
              "invalid_idempotency_key");

  auto l1 =
      c.post("/api/runtimes/rt1/requests", R"({"kind":"local_skill_list"})", auth(t_->user_token));
  auto l2 =
      c.post("/api/runtimes/rt1/requests", R"({"kind":"local_skill_list"})", auth(t_->user_token));
  EXPECT_EQ(l1.status, 201);
  EXPECT_EQ(l2.status, 200);
  EXPECT_EQ(field(l1, "id"), field(l2, "id"));

  auto u1 = c.post("/api/runtimes/rt1/requests",
                   R"({"kind":"update","payload":{"target_version":"2"}})", auth(t_->user_token));
  EXPECT_EQ(u1.status, 201) << u1.body;
  expectError(c.post("/api/runtimes/rt1/requests",
                     R"({"kind":"update","payload":{"target_version":"3"}})", auth(t_->user_token)),
              409, "update_in_progress");
}

}  // namespace
}  // namespace courier::testing
