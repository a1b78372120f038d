// Skill import end to end over the native API: the skill and the request's completion are
// written by one script, names are unique per workspace, conflicts and overwrites follow COMPAT.md.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

class Skills : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = h_.tenant("alice");
    h_.runtime(t_, "rt1");
  }

  // Creates an import with `payload`, claims it, reports `result` (a JSON object), and returns
  // the final record.
  rapidjson::Document import(const std::string& payload, const std::string& result,
                             const std::string& token = "") {
    HttpClient c(h_.port());
    auto created = c.post("/api/runtimes/rt1/requests",
                          R"({"kind":"local_skill_import","payload":)" + payload + "}",
                          auth(token.empty() ? t_.user_token : token));
    EXPECT_EQ(created.status, 201) << created.body;
    std::string id = field(created, "id");
    auto claim = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":5,"max":1})",
                        daemonHeaders(t_.daemon_token, "d"));
    EXPECT_NE(claim.body.find(id), std::string::npos) << claim.body;
    auto report = c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
                         R"({"attempt":1,"status":"completed","result":)" + result + "}",
                         auth(t_.daemon_token));
    EXPECT_EQ(report.status, 200) << report.body;
    return c.get("/api/runtimes/rt1/requests/" + id, auth(t_.user_token)).json();
  }

  static std::string bundle(const std::string& name, const std::string& files = "[]") {
    return R"({"skill":{"name":")" + name +
           R"(","description":"d","content":"# SKILL","source_path":"/s/)" + name +
           R"(","provider":"claude","files":)" + files + "}}";
  }

  Harness h_;
  Tenant t_;
};

TEST_F(Skills, ImportCreatesTheSkillAttributedToTheRequester) {
  auto rec =
      import(R"({"skill_key":"pdf"})",
             bundle("pdf", R"([{"path":"a.txt","content":"A"},{"path":"../x","content":"no"},)"
                           R"({"path":"/etc/passwd","content":"no"},{"path":"","content":"no"},)"
                           R"({"path":"sub/b.md","content":"B"}])"));
  ASSERT_STREQ(rec["status"].GetString(), "completed");
  const auto& skill = rec["result"]["skill"];
  EXPECT_STREQ(skill["name"].GetString(), "pdf");
  EXPECT_STREQ(skill["created_by"].GetString(), "alice");  // the requester, never the daemon
  EXPECT_STREQ(skill["workspace_id"].GetString(), t_.workspace.c_str());
  EXPECT_STREQ(skill["config"]["origin"]["type"].GetString(), "runtime_local");
  EXPECT_STREQ(skill["config"]["origin"]["runtime_id"].GetString(), "rt1");
  ASSERT_EQ(skill["files"].Size(), 2u);  // unsafe paths dropped
  EXPECT_STREQ(skill["files"][0]["path"].GetString(), "a.txt");
  EXPECT_STREQ(skill["files"][1]["path"].GetString(), "sub/b.md");
  EXPECT_EQ(std::string(skill["created_at"].GetString()).size(), 24u);

  HttpClient c(h_.port());
  auto list = c.get("/api/skills", auth(t_.user_token)).json();
  ASSERT_EQ(list["skills"].Size(), 1u);
  EXPECT_EQ(list["skills"][0]["file_count"].GetInt(), 2);
  EXPECT_FALSE(list["skills"][0].HasMember("files"));
  std::string sid = skill["id"].GetString();
  auto one = c.get("/api/skills/" + sid, auth(t_.user_token)).json();
  EXPECT_STREQ(one["content"].GetString(), "# SKILL");
  EXPECT_EQ(one["files"].Size(), 2u);
  // Another workspace sees nothing of it.
  Tenant other = h_.tenant("bob");
  EXPECT_EQ(c.get("/api/skills/" + sid, auth(other.user_token)).status, 404);
  EXPECT_EQ(c.get("/api/skills", auth(other.user_token)).body, R"({"skills":[]})");
}

TEST_F(Skills, NameTakenConflictsOrFailsAndOverwriteReplaces) {
  auto first = import(R"({"skill_key":"pdf"})", bundle("pdf"));
  std::string sid = first["result"]["skill"]["id"].GetString();

  auto failed = import(R"({"skill_key":"pdf"})", bundle("pdf"));
  EXPECT_STREQ(failed["status"].GetString(), "failed");
  EXPECT_STREQ(failed["error"].GetString(), "a skill with this name already exists");

  auto conflict = import(R"({"skill_key":"pdf","supports_conflict":true})", bundle("pdf"));
  ASSERT_STREQ(conflict["status"].GetString(), "conflict");
  EXPECT_EQ(std::string(conflict["result"]["conflict"]["existing_skill_id"].GetString()), sid);
  EXPECT_STREQ(conflict["result"]["conflict"]["existing_created_by"].GetString(), "alice");
  EXPECT_TRUE(conflict["result"]["conflict"]["can_overwrite"].GetBool());

  auto over = import(R"({"skill_key":"pdf","action":"overwrite","target_skill_id":")" + sid + "\"}",
                     bundle("pdf", R"([{"path":"new.txt","content":"N"}])"));
  ASSERT_STREQ(over["status"].GetString(), "completed");
  EXPECT_EQ(std::string(over["result"]["skill"]["id"].GetString()), sid);  // keeps its id
  EXPECT_EQ(over["result"]["skill"]["files"].Size(), 1u);

  // Someone else may not overwrite it, and a renamed bundle no longer matches.
  std::string bob = h_.userToken(t_, "bob");
  HttpClient c(h_.port());
  ASSERT_EQ(c.post("/api/daemon/runtimes", R"({"id":"rt1","name":"rt1","owner_user_id":"bob"})",
                   auth(t_.daemon_token))
                .status,
            200);
  auto denied =
      import(R"({"skill_key":"pdf","action":"overwrite","target_skill_id":")" + sid + "\"}",
             bundle("pdf"), bob);
  EXPECT_STREQ(denied["error"].GetString(),
               "you no longer have permission to overwrite this skill");
  auto renamed =
      import(R"({"skill_key":"x","action":"overwrite","target_skill_id":")" + sid + "\"}",
             bundle("other"), bob);
  EXPECT_STREQ(renamed["status"].GetString(), "failed");
  auto gone = import(R"({"skill_key":"x","action":"overwrite","target_skill_id":"nope"})",
                     bundle("x"), bob);
  EXPECT_STREQ(gone["error"].GetString(), "target skill no longer exists");
  EXPECT_EQ(c.get("/api/skills", auth(t_.user_token)).json()["skills"].Size(), 1u);
}

TEST_F(Skills, NameOverrideEmptyBundleAndLimits) {
  auto named = import(R"({"skill_key":"k","name":"  Renamed  "})", bundle("orig"));
  EXPECT_STREQ(named["result"]["skill"]["name"].GetString(), "Renamed");
  auto empty = import(R"({"skill_key":"k"})", R"({"nothing":true})");
  EXPECT_STREQ(empty["status"].GetString(), "failed");
  EXPECT_STREQ(empty["error"].GetString(), "daemon returned an empty skill bundle");
  std::string many = "[";
  for (int i = 0; i < 257; ++i) {
    many +=
        (i ? "," : "") + std::string(R"({"path":"f)") + std::to_string(i) + R"(","content":"x"})";
  }
  many += "]";
  auto big = import(R"({"skill_key":"k"})", bundle("many", many));
  EXPECT_STREQ(big["status"].GetString(), "failed");
  EXPECT_NE(std::string(big["error"].GetString()).find("256"), std::string::npos);
}

TEST_F(Skills, ConcurrentImportsOfOneNameMakeExactlyOneSkill) {
  HttpClient c(h_.port());
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = c.post(
        "/api/runtimes/rt1/requests",
        R"({"kind":"local_skill_import","payload":{"skill_key":"same","supports_conflict":true}})",
        auth(t_.user_token));
    ids.push_back(field(r, "id"));
  }
  auto claim = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":5,"max":2})",
                      daemonHeaders(t_.daemon_token, "d"));
  ASSERT_EQ(claim.json()["requests"].Size(), 2u);
  std::vector<std::future<int>> reports;
  for (const auto& id : ids) {
    reports.push_back(std::async(std::launch::async, [&, id] {
      HttpClient d(h_.port());
      return d
          .post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
                R"({"attempt":1,"status":"completed","result":)" + bundle("same") + "}",
                auth(t_.daemon_token))
          .status;
    }));
  }
  for (auto& r : reports) EXPECT_EQ(r.get(), 200);
  std::multiset<std::string> statuses;
  for (const auto& id : ids) {
    statuses.insert(
        field(c.get("/api/runtimes/rt1/requests/" + id, auth(t_.user_token)), "status"));
  }
  EXPECT_EQ(statuses, (std::multiset<std::string>{"completed", "conflict"}));
  EXPECT_EQ(c.get("/api/skills", auth(t_.user_token)).json()["skills"].Size(), 1u);
}

TEST_F(Skills, RetriedReportNeverMakesASecondSkill) {
  HttpClient c(h_.port());
  auto r =
      c.post("/api/runtimes/rt1/requests",
             R"({"kind":"local_skill_import","payload":{"skill_key":"pdf"}})", auth(t_.user_token));
  std::string id = field(r, "id");
  c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":5})",
         daemonHeaders(t_.daemon_token, "d"));
  std::string body = R"({"attempt":1,"status":"completed","result":)" + bundle("pdf") + "}";
  EXPECT_EQ(field(c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result", body,
                         auth(t_.daemon_token)),
                  "status"),
            "ok");
  EXPECT_EQ(field(c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result", body,
                         auth(t_.daemon_token)),
                  "status"),
            "ignored");
  EXPECT_EQ(field(c.get("/api/runtimes/rt1/requests/" + id, auth(t_.user_token)), "status"),
            "completed");
  EXPECT_EQ(c.get("/api/skills", auth(t_.user_token)).json()["skills"].Size(), 1u);
}

}  // namespace
}  // namespace courier::testing
