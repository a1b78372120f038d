#include "courier/redis/reply.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <deque>
#include <string>
#include <vector>

namespace courier::redis {
namespace {

// Builds hiredis reply trees by hand; the builder owns every node and string.
class Trees {
 public:
  redisReply* str(int type, const std::string& s) {
    auto* r = node(type);
    strings_.push_back(s);
    r->str = strings_.back().data();
    r->len = s.size();
    return r;
  }
  redisReply* integer(long long v) {
    auto* r = node(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
  }
  redisReply* nil() { return node(REDIS_REPLY_NIL); }
  redisReply* array(std::vector<redisReply*> items) {
    auto* r = node(REDIS_REPLY_ARRAY);
    arrays_.push_back(std::move(items));
    r->element = arrays_.back().data();
    r->elements = arrays_.back().size();
    return r;
  }

 private:
  redisReply* node(int type) {
    nodes_.emplace_back();
    nodes_.back().type = type;
    return &nodes_.back();
  }
  std::deque<redisReply> nodes_;
  std::deque<std::string> strings_;
  std::deque<std::vector<redisReply*>> arrays_;
};

TEST(ReplyTest, CopiesScalars) {
  Trees t;
  auto s = copyReply(*t.str(REDIS_REPLY_STRING, std::string("a\0b", 3)));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, Reply::Type::kString);
  EXPECT_EQ(s->str, std::string("a\0b", 3));  // binary safe

  auto st = copyReply(*t.str(REDIS_REPLY_STATUS, "OK"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, Reply::Type::kStatus);
  EXPECT_EQ(st->text(), "OK");

  auto i = copyReply(*t.integer(-42));
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->type, Reply::Type::kInteger);
  EXPECT_EQ(i->asInt(), -42);
  EXPECT_EQ(i->text(), "-42");

  auto n = copyReply(*t.nil());
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->isNil());
  EXPECT_EQ(n->text(), "");
}

TEST(ReplyTest, CopiesNestedArrays) {
  Trees t;
  redisReply* tree =
      t.array({t.integer(1), t.str(REDIS_REPLY_STRING, "x"),
               t.array({t.nil(), t.array({t.str(REDIS_REPLY_STATUS, "deep")})}), t.array({})});
  auto r = copyReply(*tree);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->isArray());
  ASSERT_EQ(r->elements.size(), 4u);
  EXPECT_EQ(r->elements[0].asInt(), 1);
  EXPECT_EQ(r->elements[1].text(), "x");
  ASSERT_EQ(r->elements[2].elements.size(), 2u);
  EXPECT_TRUE(r->elements[2].elements[0].isNil());
  EXPECT_EQ(r->elements[2].elements[1].elements.at(0).str, "deep");
  EXPECT_TRUE(r->elements[3].isArray());
  EXPECT_TRUE(r->elements[3].elements.empty());
}

TEST(ReplyTest, ErrorReplyBecomesServerError) {
  Trees t;
  auto r = copyReply(*t.str(REDIS_REPLY_ERROR, "ERR wrong number of arguments"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kServer);
  EXPECT_EQ(r.error().message, "ERR wrong number of arguments");
}

TEST(ReplyTest, NestedErrorFailsTheWholeReply) {
  Trees t;
  redisReply* tree =
      t.array({t.integer(1), t.array({t.str(REDIS_REPLY_ERROR, "WRONGTYPE Operation")})});
  auto r = copyReply(*tree);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kServer);
  EXPECT_EQ(r.error().message, "WRONGTYPE Operation");
}

TEST(ReplyTest, AsIntParsesOnlyWholeIntegers) {
  Reply r;
  r.type = Reply::Type::kString;
  r.str = "123";
  EXPECT_EQ(r.asInt(), 123);
  r.str = "12x";
  EXPECT_EQ(r.asInt(-1), -1);
  r.str = "";
  EXPECT_EQ(r.asInt(-1), -1);
  r.type = Reply::Type::kNil;
  EXPECT_EQ(r.asInt(7), 7);
}

}  // namespace
}  // namespace courier::redis
