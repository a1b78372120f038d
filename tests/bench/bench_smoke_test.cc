// Keeps courier-bench working: runs the real binary for about a second against its own Redis and
// node, and checks what it writes. No timing assertions: only that requests completed and the
// outputs carry the fields the README and the plots rely on.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/node_process.h"

namespace courier::testing {
namespace {

std::string buildDir() {
  const char* build = std::getenv("COURIER_BUILD");
  return build != nullptr && *build != '\0' ? build : "build";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BenchSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("courier-bench-test");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Runs courier-bench with `args` plus --out; returns its exit code (-1 if it hung).
  int runBench(std::vector<std::string> args) {
    std::vector<std::string> argv{buildDir() + "/courier-bench"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--out", dir_ + "/out"});
    ChildProcess bench(argv, {}, dir_ + "/bench.log");
    if (!bench.start()) {
      ADD_FAILURE() << bench.lastError();
      return -1;
    }
    // Generous: startup, a one-second run and its drain; the harness bounds itself too.
    const int code = bench.wait(120'000);
    if (code != 0) ADD_FAILURE() << "courier-bench output:\n" << bench.log();
    if (code < 0) bench.kill9();
    return code;
  }

  // results.json, parsed; fails the test if it is missing or not an object.
  void loadResults(rapidjson::Document& doc) {
    const std::string json = readFile(dir_ + "/out/results.json");
    doc.Parse(json.data(), json.size());
    ASSERT_FALSE(doc.HasParseError()) << json;
    ASSERT_TRUE(doc.IsObject());
  }

  std::string dir_;
};

TEST_F(BenchSmokeTest, CourierModeCompletesRequestsAndWritesResults) {
  ASSERT_EQ(
      runBench({"--modes", "courier", "--duration", "1", "--concurrency", "4", "--daemons", "2"}),
      0);
  rapidjson::Document doc;
  ASSERT_NO_FATAL_FAILURE(loadResults(doc));
  ASSERT_TRUE(doc.HasMember("runs") && doc["runs"].IsArray());
  ASSERT_EQ(doc["runs"].Size(), 1u);
  const auto& run = doc["runs"][0];
  EXPECT_STREQ(run["mode"].GetString(), "courier");
  EXPECT_FALSE(run["skipped"].GetBool());
  EXPECT_EQ(run["concurrency"].GetInt(), 4);
  EXPECT_GT(run["completed"].GetInt64(), 0);
  EXPECT_TRUE(run["errors"].IsObject());
  EXPECT_GT(run["throughput_rps"].GetDouble(), 0);
  const auto& latency = run["latency_ms"];
  for (const char* key : {"count", "mean", "p50", "p90", "p99", "p99.9", "max"}) {
    EXPECT_TRUE(latency.HasMember(key)) << key;
  }
  EXPECT_EQ(latency["count"].GetInt64(), run["completed"].GetInt64());
  EXPECT_LE(latency["p50"].GetDouble(), latency["p99"].GetDouble());
  EXPECT_LE(latency["p99"].GetDouble(), latency["max"].GetDouble());
  const auto& cost = run["per_request"];
  for (const char* key : {"redis_commands", "redis_script_calls", "redis_cpu_us", "server_cpu_ms",
                          "node_redis_roundtrips"}) {
    EXPECT_TRUE(cost.HasMember(key)) << key;
  }
  // Every request runs at least its create, claim, report and get scripts.
  ASSERT_TRUE(cost["redis_script_calls"].IsNumber());
  EXPECT_GE(cost["redis_script_calls"].GetDouble(), 1.0);

  const std::string table = readFile(dir_ + "/out/table.txt");
  EXPECT_NE(table.find("courier c=4"), std::string::npos) << table;
  EXPECT_NE(table.find("p99"), std::string::npos) << table;
}

TEST_F(BenchSmokeTest, IdleScaleParksEveryClaim) {
  ASSERT_EQ(runBench({"--modes", "courier", "--duration", "0.5", "--concurrency", "2",
                      "--idle-claims", "50", "--idle-window", "1"}),
            0);
  rapidjson::Document doc;
  ASSERT_NO_FATAL_FAILURE(loadResults(doc));
  ASSERT_TRUE(doc["idle"].IsObject());
  const auto& idle = doc["idle"];
  EXPECT_FALSE(idle["skipped"].GetBool()) << idle["note"].GetString();
  EXPECT_EQ(idle["claims_requested"].GetInt(), 50);
  EXPECT_EQ(idle["claims_parked"].GetInt(), 50);
  EXPECT_EQ(idle["early_replies"].GetInt64(), 0);
  EXPECT_GT(idle["node_rss_parked_kib"].GetInt64(), 0);
  EXPECT_GT(idle["redis_connections_of_node_parked"].GetInt64(), 0);
  EXPECT_TRUE(idle.HasMember("redis_commands_per_s_idle"));
}

TEST_F(BenchSmokeTest, RejectsAnUnknownMode) {
  std::vector<std::string> argv{buildDir() + "/courier-bench", "--modes", "kafka"};
  ChildProcess bench(argv, {}, dir_ + "/bench.log");
  ASSERT_TRUE(bench.start()) << bench.lastError();
  EXPECT_EQ(bench.wait(30'000), 2) << bench.log();
  EXPECT_NE(bench.log().find("unknown mode"), std::string::npos) << bench.log();
}

}  // namespace
}  // namespace courier::testing
