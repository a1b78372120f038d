// courier-daemon end to end: a real node and Redis, the real daemon binary
// ($COURIER_BUILD/courier-daemon) over a temporary skills folder, requests made through the API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "courier/util/json.h"
#include "support/courier_harness.h"

namespace courier::testing {
namespace {

namespace fs = std::filesystem;

std::string daemonBinary() {
  const char* build = std::getenv("COURIER_BUILD");
  return std::string(build != nullptr && *build != '\0' ? build : "build") + "/courier-daemon";
}

// A loopback port nothing listens on (right now).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Polls `cond` until it holds (generous deadline: no timing assertion, just no hang).
bool eventually(const std::function<bool()>& cond, int timeout_ms = 30000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void writeFile(const fs::path& path, const std::string& content, fs::perms perms = {}) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
  if (perms != fs::perms{}) fs::permissions(path, perms);
}

std::string skillMd(const std::string& name, const std::string& description,
                    const std::string& body = "") {
  return "---\nname: " + name + "\ndescription: " + description + "\n---\n# " + name + "\n" + body;
}

// One courier-daemon process; its output goes to `log`. The destructor stops it with SIGTERM and
// checks that it exited 0 and that its log holds no sanitizer report.
class DaemonProcess {
 public:
  DaemonProcess(std::vector<std::string> args, EnvVars env, std::string log)
      : child_(commandLine(std::move(args)), std::move(env), std::move(log)) {}
  ~DaemonProcess() {
    if (child_.running()) {
      // Generous: under ASan, LeakSanitizer scans the heap at exit, slowly on a loaded machine.
      EXPECT_EQ(child_.terminate(30000), 0) << "daemon did not exit 0 on SIGTERM:\n" << log();
    }
    const std::string text = log();
    for (const char* bad :
         {"AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"}) {
      EXPECT_EQ(text.find(bad), std::string::npos) << "sanitizer report in the daemon log:\n"
                                                   << text;
    }
  }

  bool start() {
    if (child_.start()) return true;
    ADD_FAILURE() << "cannot start " << daemonBinary() << ": " << child_.lastError();
    return false;
  }
  std::string log() const { return child_.log(); }
  bool logHas(const std::string& s) const { return log().find(s) != std::string::npos; }
  ChildProcess& child() { return child_; }

 private:
  static std::vector<std::string> commandLine(std::vector<std::string> args) {
    args.insert(args.begin(), daemonBinary());
    return args;
  }
  ChildProcess child_;
};

class Daemon : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("courier-daemon");
    ASSERT_FALSE(dir_.empty());
    skills_ = dir_ + "/skills";
    fs::create_directories(skills_);
    h_ = std::make_unique<Harness>();
    t_ = h_->tenant("alice");
  }
  void TearDown() override {
    daemon_.reset();
    h_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> baseArgs(int port = 0) const {
    return {"--server",   "http://127.0.0.1:" + std::to_string(port ? port : h_->port()),
            "--token",    t_.daemon_token,
            "--owner",    "alice",
            "--provider", "claude",
            "--consumer", "test-daemon"};
  }

  // Starts the daemon for runtime rt1 (unless args name runtimes) and waits until it claims.
  void startDaemon(std::vector<std::string> extra = {}, EnvVars env = {},
                   std::vector<std::string> runtimes = {"rt1"}) {
    std::vector<std::string> args = baseArgs();
    bool has_runtime = false;
    for (const auto& a : extra) has_runtime |= a == "--runtime";
    if (!has_runtime && std::none_of(env.begin(), env.end(), [](const auto& kv) {
          return kv.first == "COURIER_RUNTIME";
        })) {
      args.insert(args.end(), {"--runtime", "rt1"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<DaemonProcess>(args, env, dir_ + "/daemon.log");
    ASSERT_TRUE(daemon_->start());
    for (const auto& rt : runtimes) {
      ASSERT_TRUE(eventually([&] { return online(rt); }))
          << "runtime " << rt << " never came online\n"
          << daemon_->log();
    }
  }

  bool online(const std::string& rt) {
    HttpClient c(h_->port());
    auto r = c.get("/api/runtimes", auth(t_.user_token));
    if (r.status != 200) return false;
    auto doc = r.json();
    for (const auto& runtime : doc["runtimes"].GetArray()) {
      if (runtime["id"].GetString() == rt)
        return std::string(runtime["status"].GetString()) == "online";
    }
    return false;
  }

  // Creates a request and returns its id.
  std::string create(const std::string& kind, const std::string& payload = "{}",
                     const std::string& rt = "rt1") {
    HttpClient c(h_->port());
    auto r = c.post("/api/runtimes/" + rt + "/requests",
                    R"({"kind":")" + kind + R"(","payload":)" + payload + "}", auth(t_.user_token));
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
    return field(r, "id");
  }

  // Waits (long-polling) until the request is terminal and returns its record.
  rapidjson::Document finalRecord(const std::string& id, const std::string& rt = "rt1") {
    // A 503 (Redis coming back) is waited out too.
    HttpClient c(h_->port());
    rapidjson::Document doc;
    HttpResponse r;
    const bool ended = eventually(
        [&] {
          r = c.get("/api/runtimes/" + rt + "/requests/" + id + "?wait=30", auth(t_.user_token));
          if (r.status != 200) return false;
          doc = r.json();
          const std::string status = field(r, "status");
          return status != "pending" && status != "running";
        },
        120000);
    EXPECT_TRUE(ended) << r.status << " " << r.body;
    if (!doc.IsObject()) doc.Parse(R"({"status":"","result":{},"error":""})");
    return doc;
  }

  rapidjson::Document run(const std::string& kind, const std::string& payload = "{}",
                          const std::string& rt = "rt1") {
    return finalRecord(create(kind, payload, rt), rt);
  }

  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    writeFile(path, "#!/bin/sh\n" + body, fs::perms::owner_all);
    return path;
  }

  // Starts a daemon whose update command waits for dir_/release, then prints "done VERSION";
  // creates an update and returns its id once the command runs ("" on failure).
  std::string startGatedUpdate(const std::string& version) {
    const std::string cmd =
        script("gated.sh", "touch " + dir_ + "/started\nwhile [ ! -e " + dir_ +
                               "/release ]; do sleep 0.05; done\necho done $1\n");
    startDaemon({"--update-command", cmd});
    if (HasFatalFailure()) return "";
    const std::string id = create("update", R"({"target_version":")" + version + "\"}");
    if (!eventually([&] { return fs::exists(dir_ + "/started"); })) {
      ADD_FAILURE() << "the update command never started\n" << daemon_->log();
      return "";
    }
    return id;
  }

  std::string dir_, skills_;
  std::unique_ptr<Harness> h_;
  Tenant t_;
  std::unique_ptr<DaemonProcess> daemon_;
};

std::string str(const rapidjson::Value& v) {
  return v.IsString() ? v.GetString() : "<not a string>";
}

TEST_F(Daemon, AnswersPingAndModelList) {
  startDaemon({"--models", "sonnet=Claude Sonnet, opus"});
  auto ping = run("ping");
  ASSERT_EQ(str(ping["status"]), "completed") << toJson(ping);
  EXPECT_TRUE(ping["result"]["pong"].GetBool());
  EXPECT_EQ(str(ping["result"]["time"]).size(), 24u);  // 2026-12-03T20:19:17.123Z
  EXPECT_EQ(str(ping["result"]["time"]).back(), 'Z');

  auto models = run("model_list");
  ASSERT_EQ(str(models["status"]), "completed") << toJson(models);
  EXPECT_TRUE(models["result"]["supported"].GetBool());
  const auto& list = models["result"]["models"];
  ASSERT_EQ(list.Size(), 2u);
  EXPECT_EQ(str(list[0]["id"]), "sonnet");
  EXPECT_EQ(str(list[0]["label"]), "Claude Sonnet");
  EXPECT_EQ(str(list[1]["id"]), "opus");
  EXPECT_EQ(str(list[1]["label"]), "opus");
}

TEST_F(Daemon, ListsTheSkillsOnDiskAfreshForEveryRequest) {
  writeFile(skills_ + "/pdf/SKILL.md", skillMd("pdf", "Fill in PDF forms."));
  writeFile(skills_ + "/pdf/scripts/fill.py", "print(1)\n");
  writeFile(skills_ + "/pdf/reference.md", "# Reference\n");
  writeFile(skills_ + "/notes/README.md", "no SKILL.md: not a skill\n");
  startDaemon({"--skills-dir", skills_});

  auto rec = run("local_skill_list");
  ASSERT_EQ(str(rec["status"]), "completed") << toJson(rec);
  const auto& result = rec["result"];
  EXPECT_TRUE(result["supported"].GetBool());
  EXPECT_FALSE(result["mcp_supported"].GetBool());
  EXPECT_EQ(result["mcp_servers"].Size(), 0u);
  ASSERT_EQ(result["skills"].Size(), 1u);
  const auto& pdf = result["skills"][0];
  EXPECT_EQ(str(pdf["key"]), "pdf");
  EXPECT_EQ(str(pdf["name"]), "pdf");
  EXPECT_EQ(str(pdf["description"]), "Fill in PDF forms.");
  EXPECT_EQ(str(pdf["source_path"]), skills_ + "/pdf");
  EXPECT_EQ(str(pdf["provider"]), "claude");
  EXPECT_EQ(str(pdf["root"]), "provider");
  EXPECT_EQ(pdf["file_count"].GetInt(), 2);

  writeFile(skills_ + "/commit/SKILL.md", skillMd("commit-message", "Write commit messages."));
  auto again = run("local_skill_list");
  ASSERT_EQ(again["result"]["skills"].Size(), 2u) << toJson(again);
  EXPECT_EQ(str(again["result"]["skills"][0]["key"]), "commit");
  EXPECT_EQ(str(again["result"]["skills"][0]["name"]), "commit-message");
}

TEST_F(Daemon, ServesTheExampleSkillsFolder) {
  const char* root = std::getenv("COURIER_SOURCE");
  const std::string examples = std::string(root != nullptr ? root : ".") + "/examples/skills";
  if (!fs::is_directory(examples)) GTEST_SKIP() << "no " << examples << " (run from the repo)";
  startDaemon({"--skills-dir", examples});
  auto rec = run("local_skill_list");
  ASSERT_EQ(str(rec["status"]), "completed") << toJson(rec);
  EXPECT_GE(rec["result"]["skills"].Size(), 2u);
  for (const auto& s : rec["result"]["skills"].GetArray()) {
    EXPECT_FALSE(str(s["description"]).empty()) << str(s["key"]);
  }
}

TEST_F(Daemon, WithoutModelsOrUpdateCommandSaysUnsupported) {
  startDaemon();
  auto models = run("model_list");
  ASSERT_EQ(str(models["status"]), "completed");
  EXPECT_FALSE(models["result"]["supported"].GetBool());
  EXPECT_EQ(models["result"]["models"].Size(), 0u);
  auto update = run("update", R"({"target_version":"1.2.3"})");
  EXPECT_EQ(str(update["status"]), "failed");
  EXPECT_EQ(str(update["error"]), "update not supported");
  // No skills dir: an empty, supported list.
  auto list = run("local_skill_list");
  ASSERT_EQ(str(list["status"]), "completed");
  EXPECT_EQ(list["result"]["skills"].Size(), 0u);
}

TEST_F(Daemon, UpdateRunsTheCommandWithTheVersion) {
  const std::string cmd = script("update.sh",
                                 "echo \"updating to $1 ($2)\"\necho warning >&2\n"
                                 "if [ \"$1\" = \"--channel\" ] && [ \"$3\" = bad ]; then\n"
                                 "  echo boom; exit 3\nfi\n");
  // Words of the command are split without a shell; the version comes last.
  startDaemon({"--update-command", cmd + " --channel 'stable one'"});
  auto ok = run("update", R"({"target_version":"2.0.1"})");
  ASSERT_EQ(str(ok["status"]), "completed") << toJson(ok);
  EXPECT_EQ(str(ok["result"]["output"]), "updating to --channel (stable one)\nwarning\n");

  auto bad = run("update", R"({"target_version":"bad"})");
  ASSERT_EQ(str(bad["status"]), "failed") << toJson(bad);
  EXPECT_EQ(str(bad["error"]),
            "update command exited with status 3: updating to --channel (stable one)\nwarning\n"
            "boom");
  EXPECT_NE(str(bad["result"]["output"]).find("boom"), std::string::npos);

  // A version that could pass for an option never reaches the command.
  auto option = run("update", R"({"target_version":"--help"})");
  EXPECT_EQ(str(option["status"]), "failed");
  EXPECT_NE(str(option["error"]).find("invalid target_version"), std::string::npos);
}

TEST_F(Daemon, UpdateCommandThatCannotRunFails) {
  startDaemon({"--update-command", dir_ + "/does-not-exist"});
  auto rec = run("update", R"({"target_version":"1"})");
  ASSERT_EQ(str(rec["status"]), "failed");
  EXPECT_NE(str(rec["error"]).find("cannot run"), std::string::npos) << str(rec["error"]);
}

TEST_F(Daemon, CancelStopsTheWork) {
  const std::string cmd = script("slow.sh", "echo $$ > " + dir_ + "/started\nsleep 60\n");
  startDaemon({"--update-command", cmd});
  const std::string id = create("update", R"({"target_version":"1"})");
  ASSERT_TRUE(eventually([&] { return fs::exists(dir_ + "/started"); })) << daemon_->log();
  pid_t pid = 0;
  std::ifstream(dir_ + "/started") >> pid;
  ASSERT_GT(pid, 0);
  HttpClient c(h_->port());
  auto del = c.del("/api/runtimes/rt1/requests/" + id, auth(t_.user_token));
  ASSERT_EQ(field(del, "status"), "cancelled") << del.body;
  // The daemon learns it at its next lease extension, kills the command and reports nothing.
  EXPECT_TRUE(eventually([&] {
    return daemon_->logHas("stopping update: the request was cancelled");
  })) << daemon_->log();
  EXPECT_TRUE(eventually([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; }));
  EXPECT_EQ(str(finalRecord(id)["status"]), "cancelled");
  EXPECT_FALSE(daemon_->logHas("result dropped"));  // it did not even try to report
}

TEST_F(Daemon, SigtermFinishesWorkInFlightThenExitsZero) {
  const std::string id = startGatedUpdate("9.9");
  ASSERT_FALSE(id.empty());
  daemon_->child().signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return daemon_->logHas("stopping: finishing 1 requests"); }))
      << daemon_->log();
  writeFile(dir_ + "/release", "");
  EXPECT_EQ(daemon_->child().wait(30000), 0) << daemon_->log();
  auto rec = finalRecord(id);
  EXPECT_EQ(str(rec["status"]), "completed") << toJson(rec);
  EXPECT_EQ(str(rec["result"]["output"]), "done 9.9\n");
  // Nothing is claimed after the signal.
  EXPECT_TRUE(daemon_->logHas("stopped"));
}

TEST_F(Daemon, SigtermWhenIdleExitsZero) {
  startDaemon();
  EXPECT_EQ(daemon_->child().terminate(15000), 0) << daemon_->log();
  const std::string id = create("ping");
  HttpClient c(h_->port());
  auto r = c.get("/api/runtimes/rt1/requests/" + id + "?wait=1", auth(t_.user_token));
  EXPECT_EQ(field(r, "status"), "pending");  // nobody claims it any more
}

TEST_F(Daemon, ServesSeveralRuntimesConfiguredFromTheEnvironment) {
  const std::string other = dir_ + "/more-skills";
  writeFile(skills_ + "/a/SKILL.md", skillMd("a", "first dir"));
  writeFile(other + "/b/SKILL.md", skillMd("b", "second dir"));
  writeFile(other + "/a/SKILL.md", skillMd("shadowed", "the first dir wins"));
  startDaemon({},
              {{"COURIER_RUNTIME", "rt1,rt2"},
               {"COURIER_SKILLS_DIR", skills_ + ":" + other},
               {"COURIER_MODELS", "m1,m2,m3"}},
              {"rt1", "rt2"});
  for (const std::string rt : {"rt1", "rt2"}) {
    EXPECT_EQ(str(run("ping", "{}", rt)["status"]), "completed") << rt;
    EXPECT_EQ(run("model_list", "{}", rt)["result"]["models"].Size(), 3u) << rt;
  }
  auto list = run("local_skill_list", "{}", "rt2");
  ASSERT_EQ(list["result"]["skills"].Size(), 2u) << toJson(list);
  EXPECT_EQ(str(list["result"]["skills"][0]["name"]), "a");
  EXPECT_EQ(str(list["result"]["skills"][1]["name"]), "b");
  HttpClient c(h_->port());
  auto runtimes = c.get("/api/runtimes", auth(t_.user_token)).json();
  ASSERT_EQ(runtimes["runtimes"].Size(), 2u);
  EXPECT_EQ(str(runtimes["runtimes"][0]["owner_user_id"]), "alice");
  EXPECT_EQ(str(runtimes["runtimes"][0]["provider"]), "claude");
}

TEST_F(Daemon, ReportIsRetriedWhileRedisStalls) {
  const std::string id = startGatedUpdate("1");
  ASSERT_FALSE(id.empty());
  h_->redis().pause();  // the node gives up on a stalled Redis after 2 s: 503
  writeFile(dir_ + "/release", "");
  const bool retried = eventually([&] { return daemon_->logHas("report failed: 503"); });
  h_->redis().resume();
  ASSERT_TRUE(retried) << daemon_->log();
  auto rec = finalRecord(id);
  EXPECT_EQ(str(rec["status"]), "completed") << toJson(rec) << "\n" << daemon_->log();
}

// The daemon is started before any node listens: it keeps trying, then registers and serves.
TEST(DaemonStartup, WaitsForTheServerThenServes) {
  const int port = freePort();
  ASSERT_GT(port, 0);
  Harness h(1, {"--listen", "127.0.0.1:" + std::to_string(port)});
  Tenant t = h.tenant("alice");
  ASSERT_EQ(h.node().terminate(), 0);
  const std::string dir = makeTempDir("courier-daemon");
  {
    DaemonProcess d({"--server", "http://127.0.0.1:" + std::to_string(port), "--token",
                     t.daemon_token, "--runtime", "rt1", "--owner", "alice"},
                    {}, dir + "/daemon.log");
    ASSERT_TRUE(d.start());
    ASSERT_TRUE(eventually([&] { return d.logHas("unavailable while registering"); })) << d.log();
    ASSERT_TRUE(h.node().start());
    HttpClient c(port);
    std::string id;
    ASSERT_TRUE(eventually([&] {
      auto r = c.post("/api/runtimes/rt1/requests", R"({"kind":"ping"})", auth(t.user_token));
      if (r.status != 201) return false;  // 404 / 503 runtime_offline until the daemon is in
      id = field(r, "id");
      return true;
    })) << d.log();
    auto rec = c.get("/api/runtimes/rt1/requests/" + id + "?wait=30", auth(t.user_token));
    EXPECT_EQ(field(rec, "status"), "completed") << rec.body << "\n" << d.log();
    EXPECT_TRUE(d.logHas("reachable again")) << d.log();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(DaemonCommandLine, HelpExplainsEveryFlagAndBadFlagsExitTwo) {
  const std::string dir = makeTempDir("courier-daemon");
  ChildProcess help({daemonBinary(), "--help"}, {}, dir + "/help.log");
  ASSERT_TRUE(help.start()) << help.lastError();
  EXPECT_EQ(help.wait(15000), 0);
  for (const char* flag :
       {"--server", "--token", "--runtime", "--owner", "--name", "--provider", "--skills-dir",
        "--models", "--update-command", "--consumer", "--log-level", "COURIER_SERVER",
        "COURIER_TOKEN", "COURIER_RUNTIME", "COURIER_OWNER", "COURIER_SKILLS_DIR", "COURIER_MODELS",
        "COURIER_UPDATE_COMMAND", "COURIER_CONSUMER"}) {
    EXPECT_NE(help.log().find(flag), std::string::npos) << flag << "\n" << help.log();
  }
  const std::vector<std::vector<std::string>> bad = {
      {},                                                                            // required
      {"--server", "http://x", "--token", "t", "--owner", "o", "--runtime", "a/b"},  // bad id
      {"--server", "https://x", "--token", "t", "--owner", "o", "--runtime", "a"},   // no TLS
      {"--server", "http://x", "--token", "t", "--owner", "o", "--runtime", "a", "--consumer",
       "bad consumer"},
      {"--server", "http://x", "--token", "t", "--owner", "o", "--runtime", "a", "--update-command",
       "'unterminated"},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    std::vector<std::string> argv = bad[i];
    argv.insert(argv.begin(), daemonBinary());
    ChildProcess p(argv, {{"COURIER_SERVER", ""}, {"COURIER_TOKEN", ""}, {"COURIER_RUNTIME", ""}},
                   dir + "/bad" + std::to_string(i) + ".log");
    ASSERT_TRUE(p.start());
    EXPECT_EQ(p.wait(15000), 2) << i << ": " << p.log();
    EXPECT_FALSE(p.log().empty()) << i;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// ---- Skill import end to end (the server writes the skill into the workspace registry) --------

class DaemonImport : public Daemon {
 protected:
  void SetUp() override {
    Daemon::SetUp();
    writeFile(skills_ + "/pdf/SKILL.md", skillMd("pdf", "Fill in PDF forms.", "Use fill.py.\n"));
    writeFile(skills_ + "/pdf/scripts/fill.py", "print('fill')\n");
    writeFile(skills_ + "/pdf/reference/forms/w9.md", "# W-9\n");
    writeFile(skills_ + "/pdf/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\0", 12));
    startDaemon({"--skills-dir", skills_});
  }

  rapidjson::Document import(const std::string& payload) {
    return run("local_skill_import", payload);
  }
  static std::vector<std::string> paths(const rapidjson::Value& skill) {
    std::vector<std::string> out;
    for (const auto& f : skill["files"].GetArray()) out.push_back(f["path"].GetString());
    return out;
  }
};

TEST_F(DaemonImport, ImportsTheSkillWithItsFiles) {
  auto rec = import(R"({"skill_key":"pdf"})");
  ASSERT_EQ(str(rec["status"]), "completed") << toJson(rec) << daemon_->log();
  const auto& skill = rec["result"]["skill"];
  EXPECT_FALSE(str(skill["id"]).empty());
  EXPECT_EQ(str(skill["workspace_id"]), t_.workspace);
  EXPECT_EQ(str(skill["name"]), "pdf");
  EXPECT_EQ(str(skill["description"]), "Fill in PDF forms.");
  EXPECT_EQ(str(skill["content"]), skillMd("pdf", "Fill in PDF forms.", "Use fill.py.\n"));
  EXPECT_EQ(str(skill["created_by"]), "alice");
  EXPECT_EQ(str(skill["config"]["origin"]["type"]), "runtime_local");
  EXPECT_EQ(str(skill["config"]["origin"]["runtime_id"]), "rt1");
  EXPECT_EQ(str(skill["config"]["origin"]["provider"]), "claude");
  EXPECT_EQ(str(skill["config"]["origin"]["source_path"]), skills_ + "/pdf");
  // The binary logo is not sent; SKILL.md is the content, not a file.
  EXPECT_EQ(paths(skill), (std::vector<std::string>{"reference/forms/w9.md", "scripts/fill.py"}));
  EXPECT_EQ(str(skill["files"][1]["content"]), "print('fill')\n");

  HttpClient c(h_->port());
  auto one = c.get("/api/skills/" + str(skill["id"]), auth(t_.user_token)).json();
  EXPECT_EQ(one["files"].Size(), 2u);
  // Logged once the report is answered, which may be just after the record ended.
  EXPECT_TRUE(eventually([&] { return daemon_->logHas("logo.png (binary)"); })) << daemon_->log();
}

TEST_F(DaemonImport, NameTakenConflictsThenOverwriteSendsWhatIsOnDiskNow) {
  auto first = import(R"({"skill_key":"pdf"})");
  ASSERT_EQ(str(first["status"]), "completed") << toJson(first);
  const std::string sid = str(first["result"]["skill"]["id"]);

  auto failed = import(R"({"skill_key":"pdf"})");
  EXPECT_EQ(str(failed["status"]), "failed");
  EXPECT_EQ(str(failed["error"]), "a skill with this name already exists");

  auto conflict = import(R"({"skill_key":"pdf","supports_conflict":true})");
  ASSERT_EQ(str(conflict["status"]), "conflict") << toJson(conflict);
  EXPECT_EQ(str(conflict["result"]["conflict"]["existing_skill_id"]), sid);
  EXPECT_EQ(str(conflict["result"]["conflict"]["existing_created_by"]), "alice");
  EXPECT_TRUE(conflict["result"]["conflict"]["can_overwrite"].GetBool());

  writeFile(skills_ + "/pdf/SKILL.md", skillMd("pdf", "Version two."));
  fs::remove(skills_ + "/pdf/scripts/fill.py");
  auto over =
      import(R"({"skill_key":"pdf","action":"overwrite","target_skill_id":")" + sid + "\"}");
  ASSERT_EQ(str(over["status"]), "completed") << toJson(over);
  const auto& skill = over["result"]["skill"];
  EXPECT_EQ(str(skill["id"]), sid);
  EXPECT_EQ(str(skill["description"]), "Version two.");
  EXPECT_EQ(paths(skill), std::vector<std::string>{"reference/forms/w9.md"});
  HttpClient c(h_->port());
  EXPECT_EQ(c.get("/api/skills", auth(t_.user_token)).json()["skills"].Size(), 1u);
}

TEST_F(DaemonImport, UnsafePathsNeverArrive) {
  const std::string outside = dir_ + "/outside";
  writeFile(outside + "/secret.txt", "secret\n");
  writeFile(outside + "/dir/key.pem", "secret\n");
  fs::create_symlink(outside + "/secret.txt", skills_ + "/pdf/secret.txt");
  fs::create_symlink(outside + "/dir", skills_ + "/pdf/linked-dir");
  fs::create_symlink("/etc/passwd", skills_ + "/pdf/passwd");
  // A legal Linux name that the server reads as a path escaping with "..": it drops it.
  writeFile(skills_ + "/pdf/..\\escape.txt", "escape\n");
  auto rec = import(R"({"skill_key":"pdf"})");
  ASSERT_EQ(str(rec["status"]), "completed") << toJson(rec);
  EXPECT_EQ(paths(rec["result"]["skill"]),
            (std::vector<std::string>{"reference/forms/w9.md", "scripts/fill.py"}));
  EXPECT_EQ(toJson(rec).find("secret"), std::string::npos);

  // A key that tries to leave the skills dir is just not found.
  auto escape = import(R"({"skill_key":"../outside"})");
  EXPECT_EQ(str(escape["status"]), "failed");
  EXPECT_EQ(str(escape["error"]), "skill not found: ../outside");
}

TEST_F(DaemonImport, UnknownSkillsAndBundlesOverALimitFail) {
  auto missing = import(R"({"skill_key":"nope"})");
  EXPECT_EQ(str(missing["status"]), "failed");
  EXPECT_EQ(str(missing["error"]), "skill not found: nope");

  writeFile(skills_ + "/big/SKILL.md", skillMd("big", "too big"));
  writeFile(skills_ + "/big/data.csv", std::string((1 << 20) + 10, 'x'));
  auto big = import(R"({"skill_key":"big"})");
  EXPECT_EQ(str(big["status"]), "failed");
  EXPECT_EQ(str(big["error"]), "skill big: data.csv is larger than 1 MiB (1048586 bytes)");

  writeFile(skills_ + "/deep/SKILL.md", skillMd("deep", "too deep"));
  writeFile(skills_ + "/deep/1/2/3/4/5/x.md", "x");
  auto deep = import(R"({"skill_key":"deep"})");
  EXPECT_EQ(str(deep["status"]), "failed");
  EXPECT_NE(str(deep["error"]).find("nested deeper than 4 folders"), std::string::npos);
  HttpClient c(h_->port());
  EXPECT_EQ(c.get("/api/skills", auth(t_.user_token)).json()["skills"].Size(), 0u);
}

}  // namespace
}  // namespace courier::testing
