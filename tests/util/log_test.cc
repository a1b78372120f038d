#include "courier/util/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "courier/util/json.h"

namespace courier {
namespace {

// Runs `fn` with fd 2 redirected to a temp file and returns what was written to it.
template <class Fn>
std::string captureStderr(Fn fn) {
  std::fflush(stderr);
  FILE* capture = std::tmpfile();
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(capture), STDERR_FILENO);
  fn();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(capture);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, capture)) > 0) out.append(buf, n);
  std::fclose(capture);
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Checks "2026-12-04T15:55:32.123Z" shape.
bool isRfc3339Ms(std::string_view s) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != kShape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kShape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != kShape[i]) return false;
  }
  return true;
}

class LogTest : public ::testing::Test {
 protected:
  // Later tests (and the rest of the binary) get an ordinary logger back.
  void TearDown() override { setupLogging("test", spdlog::level::info, LogFormat::kText); }
};

TEST_F(LogTest, JsonLinesCarryTimeLevelNodeAndMessage) {
  const std::string out = captureStderr([] {
    setupLogging("node-a", spdlog::level::info, LogFormat::kJson);
    spdlog::info("listening on {}:{}", "127.0.0.1", 8080);
    spdlog::warn("quote \" backslash \\ newline \n tab \t bad \xff byte");
    spdlog::debug("below the level");
  });
  const auto got = lines(out);
  ASSERT_EQ(got.size(), 2u) << out;

  rapidjson::Document doc;
  ASSERT_TRUE(parseJson(got[0], doc).ok()) << got[0];
  EXPECT_TRUE(isRfc3339Ms(doc["time"].GetString())) << got[0];
  EXPECT_STREQ(doc["level"].GetString(), "info");
  EXPECT_STREQ(doc["node"].GetString(), "node-a");
  EXPECT_STREQ(doc["msg"].GetString(), "listening on 127.0.0.1:8080");
  EXPECT_FALSE(doc.HasMember("request_id"));

  ASSERT_TRUE(parseJson(got[1], doc).ok()) << got[1];
  EXPECT_STREQ(doc["level"].GetString(), "warn");
  EXPECT_STREQ(doc["msg"].GetString(),
               "quote \" backslash \\ newline \n tab \t bad \xef\xbf\xbd byte");
}

TEST_F(LogTest, JsonLinesWithARequestIdCarryIt) {
  const std::string out = captureStderr([] {
    setupLogging("node-b", spdlog::level::info, LogFormat::kJson);
    logWithRequest(spdlog::level::err, "req_123", "claim failed {not a format}");
    spdlog::info("after");
  });
  const auto got = lines(out);
  ASSERT_EQ(got.size(), 2u) << out;
  rapidjson::Document doc;
  ASSERT_TRUE(parseJson(got[0], doc).ok()) << got[0];
  EXPECT_STREQ(doc["level"].GetString(), "error");
  EXPECT_STREQ(doc["msg"].GetString(), "claim failed {not a format}");
  EXPECT_STREQ(doc["request_id"].GetString(), "req_123");
  // The id belongs to that one line only.
  ASSERT_TRUE(parseJson(got[1], doc).ok()) << got[1];
  EXPECT_FALSE(doc.HasMember("request_id"));
}

TEST_F(LogTest, TextLinesReadTimeLevelNodeMessage) {
  const std::string out = captureStderr([] {
    setupLogging("node-c", spdlog::level::debug, LogFormat::kText);
    spdlog::debug("hello {}", 1);
    logWithRequest(spdlog::level::info, "r9", "done");
    logWithRequest(spdlog::level::trace, "r9", "below the level");
  });
  const auto got = lines(out);
  ASSERT_EQ(got.size(), 2u) << out;
  ASSERT_GT(got[0].size(), 25u);
  EXPECT_TRUE(isRfc3339Ms(got[0].substr(0, 24))) << got[0];
  EXPECT_EQ(got[0].substr(24), " debug [node-c] hello 1");
  EXPECT_EQ(got[1].substr(24), " info [node-c] [req r9] done");
}

}  // namespace
}  // namespace courier
