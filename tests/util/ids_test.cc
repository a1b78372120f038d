#include "courier/util/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace courier {
namespace {

bool allBase64Url(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

TEST(RandomId, Is22CharsOfBase64UrlAndAValidId) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = randomId();
    EXPECT_EQ(id.size(), 22u);
    EXPECT_TRUE(allBase64Url(id)) << id;
    EXPECT_TRUE(isValidId(id)) << id;
  }
}

TEST(RandomId, DoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(seen.insert(randomId()).second);
}

TEST(RandomId, UsesTheWholeAlphabet) {
  // 16 bytes = 21 full sextets + 2 bits: after 2000 ids every base64url char should have shown
  // up in the full positions (a broken encoder or a weak source would miss some).
  std::set<char> chars;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = randomId();
    chars.insert(id.begin(), id.end() - 1);
  }
  EXPECT_EQ(chars.size(), 64u);
}

TEST(RandomToken, IsCrtPrefixPlus43Chars) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string token = randomToken();
    ASSERT_EQ(token.size(), 47u);
    EXPECT_EQ(token.substr(0, 4), "crt_");
    EXPECT_TRUE(allBase64Url(token.substr(4))) << token;
    EXPECT_TRUE(seen.insert(token).second);
  }
}

TEST(Sha256Hex, MatchesKnownVectors) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex(std::string("a\0b", 3)), sha256Hex(std::string("a\0b", 3)));
  EXPECT_NE(sha256Hex(std::string("a\0b", 3)), sha256Hex("a"));
}

TEST(IsValidId, AcceptsTheApiCharsetUpTo64) {
  EXPECT_TRUE(isValidId("a"));
  EXPECT_TRUE(isValidId("Run_time-01"));
  EXPECT_TRUE(isValidId(std::string(64, 'x')));
  EXPECT_FALSE(isValidId(""));
  EXPECT_FALSE(isValidId(std::string(65, 'x')));
  EXPECT_FALSE(isValidId("a.b"));
  EXPECT_FALSE(isValidId("a:b"));
  EXPECT_FALSE(isValidId("a b"));
  EXPECT_FALSE(isValidId("a/b"));
  EXPECT_FALSE(isValidId("caf\xc3\xa9"));
  EXPECT_FALSE(isValidId(std::string("a\0", 2)));
}

TEST(IsValidConsumer, AlsoAllowsDots) {
  EXPECT_TRUE(isValidConsumer("host-1.worker_2"));
  EXPECT_TRUE(isValidConsumer(std::string(64, '.')));
  EXPECT_FALSE(isValidConsumer(std::string(65, 'c')));
  EXPECT_FALSE(isValidConsumer(""));
  EXPECT_FALSE(isValidConsumer("a:b"));
}

TEST(IsValidIdempotencyKey, AlsoAllowsColonsUpTo128) {
  EXPECT_TRUE(isValidIdempotencyKey("order:42.retry-1_x"));
  EXPECT_TRUE(isValidIdempotencyKey(std::string(128, 'k')));
  EXPECT_FALSE(isValidIdempotencyKey(std::string(129, 'k')));
  EXPECT_FALSE(isValidIdempotencyKey(""));
  EXPECT_FALSE(isValidIdempotencyKey("a/b"));
  EXPECT_FALSE(isValidIdempotencyKey("a=b"));
}

}  // namespace
}  // namespace courier
