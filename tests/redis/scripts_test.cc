#include "courier/redis/scripts.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "support/redis_server.h"

namespace courier::redis {
namespace {

TEST(ScriptRegistryTest, FindsScriptsByName) {
  ScriptRegistry reg({{"one", "return 1"}, {"two", "return 2"}});
  ASSERT_EQ(reg.all().size(), 2u);
  ASSERT_NE(reg.find("two"), nullptr);
  EXPECT_EQ(reg.find("two")->source, "return 2");
  EXPECT_EQ(reg.find("three"), nullptr);
}

TEST(ScriptRegistryTest, Sha1IsLowercaseHex) {
  // SHA1("") and SHA1("abc"), the classic test vectors.
  ScriptRegistry reg({{"empty", ""}, {"abc", "abc"}});
  EXPECT_EQ(reg.find("empty")->sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(reg.find("abc")->sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(ScriptRegistryTest, RejectsDuplicateNames) {
  EXPECT_THROW(ScriptRegistry({{"a", "return 1"}, {"a", "return 2"}}), std::invalid_argument);
}

TEST(ScriptRegistryTest, Sha1MatchesScriptLoad) {
  courier::testing::RedisServer server;
  server.start();
  ScriptRegistry reg({{"echo", "return ARGV[1]"},
                      {"multi", "-- a comment\nlocal x = redis.call('GET', KEYS[1])\nreturn x"}});
  for (const auto& s : reg.all()) {
    EXPECT_EQ(server.cmd({"SCRIPT", "LOAD", s.source}), s.sha1) << s.name;
  }
}

TEST(ScriptRegistryTest, EmbeddedScriptsLoad) {
  // Whatever lua/ holds at build time must compile in Redis and hash the same.
  ScriptRegistry reg;
  if (reg.all().empty()) GTEST_SKIP() << "no embedded scripts yet";
  courier::testing::RedisServer server;
  server.start();
  for (const auto& s : reg.all()) {
    EXPECT_EQ(server.cmd({"SCRIPT", "LOAD", s.source}), s.sha1) << s.name;
  }
}

}  // namespace
}  // namespace courier::redis
