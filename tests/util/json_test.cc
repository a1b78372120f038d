#include "courier/util/json.h"

#include <gtest/gtest.h>

#include <string>

namespace courier {
namespace {

std::string nested(int depth, std::string_view inner = "1") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

std::string parseError(std::string_view text) {
  rapidjson::Document doc;
  auto r = parseJson(text, doc);
  return r.ok() ? "" : r.error();
}

TEST(ParseJson, AcceptsADocument) {
  rapidjson::Document doc;
  ASSERT_TRUE(parseJson(R"({"id": "r1", "n": [1, 2.5, true, null], "o": {}})", doc).ok());
  EXPECT_STREQ(doc["id"].GetString(), "r1");
  EXPECT_EQ(doc["n"].Size(), 4u);
  EXPECT_TRUE(doc["o"].IsObject());
}

TEST(ParseJson, AcceptsScalarsAtTheTop) {
  EXPECT_TRUE(isValidJson("42"));
  EXPECT_TRUE(isValidJson("\"s\""));
  EXPECT_TRUE(isValidJson(" null "));
}

TEST(ParseJson, NestingUpToTheLimitIsAccepted) {
  EXPECT_TRUE(isValidJson(nested(64)));
  EXPECT_TRUE(isValidJson(std::string(63, '[') + R"({"a": 1})" + std::string(63, ']')));
}

TEST(ParseJson, NestingPastTheLimitIsRejected) {
  EXPECT_EQ(parseError(nested(65)), "JSON nesting deeper than 64 levels");
  EXPECT_EQ(parseError(std::string(64, '[') + R"({"a": 1})" + std::string(64, ']')),
            "JSON nesting deeper than 64 levels");
}

TEST(ParseJson, HonoursACustomDepth) {
  EXPECT_TRUE(isValidJson(nested(3), 3));
  EXPECT_FALSE(isValidJson(nested(4), 3));
  EXPECT_TRUE(isValidJson("1", 0));
  EXPECT_FALSE(isValidJson("[]", 0));
}

TEST(ParseJson, HugeNestingIsRejectedWithoutCrashing) {
  // The recursive parser would overflow the stack here.
  EXPECT_EQ(parseError(std::string(100000, '[')), "JSON nesting deeper than 64 levels");
  EXPECT_EQ(parseError(nested(100000)), "JSON nesting deeper than 64 levels");
  EXPECT_EQ(parseError(std::string(100000, '{')),
            "invalid JSON: Missing a name for object member at offset 1");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_EQ(parseError(objects), "JSON nesting deeper than 64 levels");
}

TEST(ParseJson, SyntaxErrorsNameTheProblemAndOffset) {
  EXPECT_EQ(parseError("[1 2]"),
            "invalid JSON: Missing a comma or ']' after an array element at offset 3");
  EXPECT_EQ(parseError(""), "invalid JSON: The document is empty at offset 0");
  EXPECT_EQ(parseError("{} {}"),
            "invalid JSON: The document root must not be followed by other values at offset 3");
  EXPECT_NE(parseError("{'a': 1}"), "");
  EXPECT_NE(parseError("[1,]"), "");
  EXPECT_NE(parseError("NaN"), "");
  EXPECT_NE(parseError("01"), "");
}

TEST(ParseJson, RejectsDuplicateKeys) {
  EXPECT_EQ(parseError(R"({"id": 1, "id": 2})"), "duplicate key \"id\"");
  EXPECT_EQ(parseError(R"({"a": [{"x": {"id": 1, "b": 2, "id": 3}}]})"), "duplicate key \"id\"");
  // Keys equal after unescaping are duplicates too.
  EXPECT_EQ(parseError(R"({"id": 1, "\u0069d": 2})"), "duplicate key \"id\"");
  EXPECT_TRUE(isValidJson(R"({"a": {"id": 1}, "b": {"id": 2}, "id": 3})"));
}

TEST(ParseJson, RejectsDuplicateKeysInLargeObjects) {
  std::string text = "{";
  for (int i = 0; i < 1000; ++i)
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_TRUE(isValidJson(text.substr(0, text.size() - 1) + "}"));
  EXPECT_EQ(parseError(text + "\"k500\": 0}"), "duplicate key \"k500\"");
}

TEST(ParseJson, DuplicateKeyMessageIsEscapedAndBounded) {
  EXPECT_EQ(parseError(R"({"a\"b": 1, "a\"b": 2})"), R"(duplicate key "a\"b")");
  const std::string key(200, 'k');
  const std::string message = parseError("{\"" + key + "\":1,\"" + key + "\":2}");
  EXPECT_EQ(message, "duplicate key \"" + std::string(64, 'k') + "...\"");
}

TEST(ParseJson, RejectsInvalidUtf8) {
  EXPECT_EQ(parseError("[\"a\xff\"]"),
            "invalid JSON: Invalid encoding in string (invalid UTF-8) at offset 3");
  EXPECT_FALSE(isValidJson("\"\xc0\xaf\""));        // overlong '/'
  EXPECT_FALSE(isValidJson("\"\xed\xa0\x80\""));    // UTF-16 surrogate
  EXPECT_FALSE(isValidJson("{\"k\xe2\x82\": 1}"));  // truncated sequence in a key
  EXPECT_TRUE(isValidJson("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""));
}

TEST(ParseJson, RejectsRawNulAndControlCharacters) {
  EXPECT_EQ(parseError(std::string("{}\0{}", 5)), "invalid JSON: NUL byte at offset 2");
  EXPECT_FALSE(isValidJson("\"a\nb\""));
  EXPECT_TRUE(isValidJson(R"("a\u0000b")"));
}

TEST(ParseJson, FailureLeavesDocumentNull) {
  rapidjson::Document doc;
  ASSERT_TRUE(parseJson("[1]", doc).ok());
  EXPECT_FALSE(parseJson("[1", doc).ok());
  EXPECT_TRUE(doc.IsNull());
}

TEST(ToJson, SerializesCompactly) {
  rapidjson::Document doc;
  ASSERT_TRUE(parseJson(R"({ "a" : [1, "x", null, true, 2.5] })", doc).ok());
  EXPECT_EQ(toJson(doc), R"({"a":[1,"x",null,true,2.5]})");
  EXPECT_EQ(toJson(doc["a"][1]), R"("x")");
}

std::string jsonQuoted(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

TEST(AppendJsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(jsonQuoted("plain"), "\"plain\"");
  EXPECT_EQ(jsonQuoted(""), "\"\"");
  EXPECT_EQ(jsonQuoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(jsonQuoted("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(jsonQuoted(std::string("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(jsonQuoted("/\x7f"), "\"/\x7f\"");
}

TEST(AppendJsonString, PassesUtf8ThroughAndReplacesInvalidBytes) {
  EXPECT_EQ(jsonQuoted("caf\xc3\xa9 \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(jsonQuoted("a\xff"
                       "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(jsonQuoted("\xe2\x82"), R"("\ufffd\ufffd")");
}

TEST(AppendJsonString, AppendsToExistingText) {
  std::string out = "{\"k\":";
  appendJsonString(out, "v");
  EXPECT_EQ(out, "{\"k\":\"v\"");
}

TEST(AppendJsonString, RoundTripsThroughTheParser) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf";
  for (const std::string& s : {all, std::string("\"\\\"\\"), std::string()}) {
    rapidjson::Document doc;
    ASSERT_TRUE(parseJson(jsonQuoted(s), doc).ok()) << jsonQuoted(s);
    ASSERT_TRUE(doc.IsString());
    EXPECT_EQ(std::string(doc.GetString(), doc.GetStringLength()), s);
  }
}

}  // namespace
}  // namespace courier

namespace courier {
namespace {

TEST(ToCanonicalJson, SortsKeysAtEveryDepthSoKeyOrderDoesNotMatter) {
  rapidjson::Document a, b;
  ASSERT_TRUE(parseJson(R"({"b":1,"a":{"z":[{"y":2,"x":1}],"c":null}})", a));
  ASSERT_TRUE(parseJson(R"({"a":{"c":null,"z":[{"x":1,"y":2}]},"b":1})", b));
  EXPECT_EQ(toCanonicalJson(a), R"({"a":{"c":null,"z":[{"x":1,"y":2}]},"b":1})");
  EXPECT_EQ(toCanonicalJson(a), toCanonicalJson(b));
  EXPECT_NE(toJson(a), toJson(b));  // plain serialization keeps the order it was given
}

}  // namespace
}  // namespace courier
