// The polling protocol's daemon side, driven the way the old Go daemon calls it.
#include <gtest/gtest.h>

#include <thread>

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

  auto rep =
      c.post("/api/daemon/runtimes/rt1/models/" + models + "/result",
             R"({"status":"completed","models":[{"id":"m1","label":"M1"}],"supported":true})",
             auth(t.daemon_token));
  ASSERT_EQ(rep.status, 200) << rep.body;
  auto rec = c.get("/api/runtimes/rt1/requests/" + models, auth(t.user_token)).json();
  EXPECT_STREQ(rec["status"].GetString(), "completed");
  EXPECT_STREQ(rec["result"]["models"][0]["id"].GetString(), "m1");
  EXPECT_TRUE(rec["result"]["supported"].GetBool());

  // Any status other than "completed" is a failure; a repeat is acknowledged and ignored.
  auto failed =
      c.post("/api/daemon/runtimes/rt1/update/" + update + "/result",
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
  EXPECT_EQ(
      c.post("/api/daemon/heartbeat", R"({"runtime_id":"nope"})", auth(t.daemon_token)).status,
      404);
}

// The old web app: POST, then GET every 500 ms until terminal, with flattened records.
HttpResponse pollUntilTerminal(HttpClient& c, const std::string& path, const std::string& token) {
  HttpResponse r;
  for (int i = 0; i < 60; ++i) {
    r = c.get(path, auth(token));
    std::string s = field(r, "status");
    if (r.status != 200 || (s != "pending" && s != "running")) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return r;
}

TEST(Compat, OldWebAppAndOldDaemonListSkillsAndImport) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient web(h.port()), daemon(h.port());

  auto list = web.post("/api/runtimes/rt1/local-skills", "", auth(t.user_token));
  ASSERT_EQ(list.status, 200) << list.body;
  auto doc = list.json();
  EXPECT_STREQ(doc["status"].GetString(), "pending");
  EXPECT_TRUE(doc["supported"].GetBool());
  EXPECT_FALSE(doc.HasMember("kind"));
  EXPECT_FALSE(doc.HasMember("version"));
  std::string id = doc["id"].GetString();

  auto hb = daemon.post("/api/daemon/heartbeat", R"({"runtime_id":"rt1"})", auth(t.daemon_token));
  ASSERT_EQ(std::string(hb.json()["pending_local_skills"]["id"].GetString()), id);
  ASSERT_EQ(daemon
                .post("/api/daemon/runtimes/rt1/local-skills/" + id + "/result",
                      R"({"status":"completed","skills":[{"key":"pdf","name":"PDF",)"
                      R"("source_path":"/s/pdf","provider":"claude","file_count":2}],)"
                      R"("mcp_servers":[{"name":"fs","enabled":true,"command":"npx fs",)"
                      R"("env":{"TOKEN":"secret"},"url":"http://x"},"junk"]})",
                      auth(t.daemon_token))
                .status,
            200);
  auto done = pollUntilTerminal(web, "/api/runtimes/rt1/local-skills/" + id, t.user_token);
  auto d = done.json();
  EXPECT_STREQ(d["status"].GetString(), "completed");
  EXPECT_STREQ(d["skills"][0]["key"].GetString(), "pdf");
  EXPECT_STREQ(d["mcp_servers"][0]["name"].GetString(), "fs");
  // Never a command, URL or environment (COMPAT.md): only name, transport, source, enabled.
  EXPECT_EQ(d["mcp_servers"].Size(), 1u);
  EXPECT_EQ(d["mcp_servers"][0].MemberCount(), 2u) << done.body;
  EXPECT_EQ(done.body.find("secret"), std::string::npos);
  EXPECT_TRUE(d["supported"].GetBool());
  EXPECT_FALSE(d["mcp_supported"].GetBool());

  // Import, the way bulk import calls it (supports_conflict: true), served by the heartbeat.
  auto imp = web.post("/api/runtimes/rt1/local-skills/import",
                      R"({"skill_key":"pdf","supports_conflict":true})", auth(t.user_token));
  ASSERT_EQ(imp.status, 200) << imp.body;
  std::string iid = field(imp, "id");
  EXPECT_EQ(field(imp, "skill_key"), "pdf");
  auto hb2 = daemon.post("/api/daemon/heartbeat", R"({"runtime_id":"rt1"})", auth(t.daemon_token));
  ASSERT_EQ(std::string(hb2.json()["pending_local_skill_import"]["id"].GetString()), iid);
  ASSERT_EQ(daemon
                .post("/api/daemon/runtimes/rt1/local-skills/import/" + iid + "/result",
                      R"({"status":"completed","skill":{"name":"PDF","description":"d",)"
                      R"("content":"# PDF","source_path":"/s/pdf","provider":"claude",)"
                      R"("files":[{"path":"a.md","content":"A"}]}})",
                      auth(t.daemon_token))
                .status,
            200);
  auto idone = pollUntilTerminal(web, "/api/runtimes/rt1/local-skills/import/" + iid, t.user_token);
  auto idoc = idone.json();
  ASSERT_STREQ(idoc["status"].GetString(), "completed") << idone.body;
  EXPECT_STREQ(idoc["skill"]["name"].GetString(), "PDF");
  EXPECT_STREQ(idoc["skill"]["files"][0]["path"].GetString(), "a.md");
  EXPECT_FALSE(idoc.HasMember("creator"));
  // A request of another kind is not found on this kind's path.
  EXPECT_EQ(web.get("/api/runtimes/rt1/models/" + iid, auth(t.user_token)).status, 404);
}

TEST(Compat, OldFrontendErrorsAndCancelledShowsAsFailed) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient web(h.port());
  auto missing =
      web.post("/api/runtimes/rt1/local-skills/import", R"({"name":"x"})", auth(t.user_token));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(field(missing, "error"), "skill_key is required");
  EXPECT_EQ(field(web.post("/api/runtimes/rt1/local-skills/import",
                           R"({"skill_key":"k","action":"delete"})", auth(t.user_token)),
                  "error"),
            "invalid action");
  EXPECT_EQ(field(web.post("/api/runtimes/rt1/local-skills/import",
                           R"({"skill_key":"k","action":"overwrite","target_skill_id":"a b"})",
                           auth(t.user_token)),
                  "error"),
            "invalid target_skill_id");
  EXPECT_EQ(field(web.post("/api/runtimes/rt1/models", "{", auth(t.user_token)), "error"),
            "invalid request body");
  auto nort = web.post("/api/runtimes/ghost/models", "", auth(t.user_token));
  EXPECT_EQ(nort.status, 404);
  EXPECT_EQ(field(nort, "error"), "runtime not found");
  std::string bob = h.userToken(t, "bob");
  auto denied =
      web.post("/api/runtimes/rt1/local-skills/import", R"({"skill_key":"k"})", auth(bob));
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(field(denied, "error"), "insufficient permissions");
  auto up = web.post("/api/runtimes/rt1/update", R"({"target_version":"2.0"})", auth(t.user_token));
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(field(up, "target_version"), "2.0");
  std::string uid = field(up, "id");
  ASSERT_EQ(web.del("/api/runtimes/rt1/requests/" + uid, auth(t.user_token)).status, 200);
  // Updates are the runtime owner's: another member may not read one either.
  auto peek = web.get("/api/runtimes/rt1/update/" + uid, auth(bob));
  EXPECT_EQ(peek.status, 403);
  EXPECT_EQ(field(peek, "error"), "insufficient permissions");
  auto rec = web.get("/api/runtimes/rt1/update/" + uid, auth(t.user_token));
  EXPECT_EQ(field(rec, "status"), "failed");
  EXPECT_EQ(field(rec, "error"), "cancelled");
}

}  // namespace
}  // namespace courier::testing
