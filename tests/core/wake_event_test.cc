// Wake-up messages as the Lua scripts publish them (lua/lib/common.lua `publish`).
#include <gtest/gtest.h>

#include "courier/core/waiters.h"

namespace courier {
namespace {

TEST(WakeEvent, ParsesTheEnvelope) {
  WakeEvent ev;
  ASSERT_TRUE(parseWakeEvent(
      R"({"id":"r1","kind":"ping","status":"running","version":2,"next_ms":15000})", &ev));
  EXPECT_EQ(ev.id, "r1");
  EXPECT_EQ(ev.kind, "ping");
  EXPECT_EQ(ev.status, "running");
  EXPECT_EQ(ev.version, 2);
  EXPECT_EQ(ev.next_ms, 15000);
  EXPECT_FALSE(ev.terminal());
  EXPECT_FALSE(ev.record.has_value());
}

TEST(WakeEvent, ParsesTheCarriedRecord) {
  WakeEvent ev;
  // As cjson writes it: every field a string, "/" escaped.
  ASSERT_TRUE(parseWakeEvent(
      R"({"rec":["r1","rt1","ping","completed","3","1","{}","{\"a\":\"x\/y\"}","",)"
      R"("1796410436493","1796410436950"],"status":"completed","kind":"ping","id":"r1",)"
      R"("version":3})",
      &ev));
  ASSERT_TRUE(ev.record.has_value());
  const Record& r = *ev.record;
  EXPECT_EQ(r.id, "r1");
  EXPECT_EQ(r.runtime_id, "rt1");
  EXPECT_EQ(r.kind, "ping");
  EXPECT_EQ(r.status, "completed");
  EXPECT_EQ(r.version, 3);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.payload, "{}");
  EXPECT_EQ(r.result, R"({"a":"x/y"})");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.created_ms, 1796410436493);
  EXPECT_EQ(r.updated_ms, 1796410436950);
}

TEST(WakeEvent, DropsARecordThatDoesNotMatchItsEnvelope) {
  const std::string rec_v3 =
      R"("rec":["r1","rt1","ping","completed","3","1","{}","","","1","2"])";
  WakeEvent ev;
  // Another version, another id, another status: the wake-up stands, the record is not used.
  ASSERT_TRUE(parseWakeEvent(
      R"({"id":"r1","kind":"ping","status":"completed","version":4,)" + rec_v3 + "}", &ev));
  EXPECT_FALSE(ev.record.has_value());
  ASSERT_TRUE(parseWakeEvent(
      R"({"id":"r2","kind":"ping","status":"completed","version":3,)" + rec_v3 + "}", &ev));
  EXPECT_FALSE(ev.record.has_value());
  ASSERT_TRUE(parseWakeEvent(
      R"({"id":"r1","kind":"ping","status":"failed","version":3,)" + rec_v3 + "}", &ev));
  EXPECT_FALSE(ev.record.has_value());
  // The matching one is used.
  ASSERT_TRUE(parseWakeEvent(
      R"({"id":"r1","kind":"ping","status":"completed","version":3,)" + rec_v3 + "}", &ev));
  EXPECT_TRUE(ev.record.has_value());
}

TEST(WakeEvent, MalformedRecordsAreIgnoredNotFatal) {
  WakeEvent ev;
  for (const char* rec : {R"("rec":{})", R"("rec":["r1"])",
                          R"("rec":["r1","rt1","ping","completed",3,"1","{}","","","1","2"])",
                          R"("rec":["r1","rt1","ping","completed","3x","1","{}","","","1","2"])",
                          R"("rec":["r1","rt1","ping","completed","3","1","{}","","","","2"])"}) {
    ASSERT_TRUE(parseWakeEvent(
        std::string(R"({"id":"r1","kind":"ping","status":"completed","version":3,)") + rec + "}",
        &ev))
        << rec;
    EXPECT_FALSE(ev.record.has_value()) << rec;
  }
}

TEST(WakeEvent, RejectsMessagesWithoutTheEnvelope) {
  WakeEvent ev;
  EXPECT_FALSE(parseWakeEvent(R"({"id":"r1","kind":"ping","status":"pending"})", &ev));
  EXPECT_FALSE(parseWakeEvent(R"({"kind":"ping","status":"pending","version":1})", &ev));
  EXPECT_FALSE(parseWakeEvent("not json", &ev));
  EXPECT_FALSE(parseWakeEvent("[]", &ev));
  EXPECT_FALSE(parseWakeEvent(R"({"id":"r1","kind":"ping","status":"pending","version":1} x)", &ev));
  // Deep nesting is refused without recursion (no stack to exhaust).
  std::string deep = R"({"id":"r1","kind":"ping","status":"pending","version":1,"x":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(parseWakeEvent(deep, &ev));
}

}  // namespace
}  // namespace courier
