// The polling protocol's daemon side, driven the way the old Go daemon calls it.
#include <gtest/gtest.h>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

TEST(Compat, HeartbeatClaimsOnePerKindInOrderAndReportsWithOldBodies) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  std::string list1 = h.create(t, "rt1", "local_skill_list");
  std::string models = h.create(t, "rt1", "model_list");
  std::string update = h.create(t, "rt1", "update", R"({"target_version":"1.2.3"})");
  std::string imp1 = h.create(t, "rt1", "local_skill_import", R"({"skill_key":"a"})");
  std::string imp2 = h.create(t, "rt1", "local_skill_import", R"({"skill_key":"b"})");

  auto hb = c.post("/api/daemon/heartbeat", R"({"runtime_id":"rt1"})", auth(t.daemon_token));
  ASSERT_EQ(hb.status, 200) << hb.body;
  auto doc = hb.json();
  EXPECT_STREQ(doc["status"].GetString(), "ok");
  EXPECT_EQ(std::string(doc["pending_update"]["id"].GetString()), update);
  EXPECT_STREQ(doc["pending_update"]["target_version"].GetString(), "1.2.3");
  EXPECT_EQ(std::string(doc["pending_model_list"]["id"].GetString()), models);
  EXPECT_EQ(std::string(doc["pending_local_skills"]["id"].GetString()), list1);
  EXPECT_EQ(std::string(doc["pending_local_skill_import"]["id"].GetString()), imp1);
  EXPECT_STREQ(doc["pending_local_skill_import"]["skill_key"].GetString(), "a");
  EXPECT_FALSE(doc.HasMember("pending_local_skill_imports"));

  // With batch import support the second import comes, in the list.
  auto hb2 = c.post("/api/daemon/heartbeat", R"({"runtime_id":"rt1","supports_batch_import":true})",
                    auth(t.daemon_token));
  auto doc2 = hb2.json();
  ASSERT_TRUE(doc2.HasMember("pending_local_skill_imports")) << hb2.body;
  EXPECT_EQ(doc2["pending_local_skill_imports"].Size(), 1u);
  EXPECT_EQ(std::string(doc2["pending_local_skill_imports"][0]["id"].GetString()), imp2);
  EXPECT_FALSE(doc2.HasMember("pending_model_list"));

  auto rep = c.post("/api/daemon/runtimes/rt1/models/" + models + "/result",
                    R"({"status":"completed","models":[{"id":"m1","label":"M1"}],"supported":true})",
                    auth(t.daemon_token));
  ASSERT_EQ(rep.status, 200) << rep.body;
  auto rec = c.get("/api/runtimes/rt1/requests/" + models, auth(t.user_token)).json();
  EXPECT_STREQ(rec["status"].GetString(), "completed");
  EXPECT_STREQ(rec["result"]["models"][0]["id"].GetString(), "m1");
  EXPECT_TRUE(rec["result"]["supported"].GetBool());

  // Any status other than "completed" is a failure; a repeat is acknowledged and ignored.
  auto failed = c.post("/api/daemon/runtimes/rt1/update/" + update + "/result",
                       R"({"status":"error","output":"","error":"disk full"})", auth(t.daemon_token));
  EXPECT_EQ(failed.status, 200);
  auto urec = c.get("/api/runtimes/rt1/requests/" + update, auth(t.user_token));
  EXPECT_EQ(field(urec, "status"), "failed");
  EXPECT_EQ(field(urec, "error"), "disk full");
  EXPECT_EQ(c.post("/api/daemon/runtimes/rt1/update/" + update + "/result",
                   R"({"status":"completed"})", auth(t.daemon_token))
                .status,
            200);
  EXPECT_EQ(field(c.get("/api/runtimes/rt1/requests/" + update, auth(t.user_token)), "status"),
            "failed");

  // A report on the route of another kind does not find the request.
  EXPECT_EQ(c.post("/api/daemon/runtimes/rt1/models/" + list1 + "/result",
                   R"({"status":"completed"})", auth(t.daemon_token))
                .status,
            404);
  // Unknown runtime: 404.
  EXPECT_EQ(c.post("/api/daemon/heartbeat", R"({"runtime_id":"nope"})", auth(t.daemon_token)).status,
            404);
}

}  // namespace
}  // namespace courier::testing
