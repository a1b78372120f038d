#include "courier/util/time.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

namespace courier {
namespace {

TEST(FormatRfc3339Ms, FormatsKnownInstantsInUtc) {
  EXPECT_EQ(formatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatRfc3339Ms(1764793157123), "2025-12-03T20:19:17.123Z");
  EXPECT_EQ(formatRfc3339Ms(1796329157123), "2026-12-03T20:19:17.123Z");
  EXPECT_EQ(formatRfc3339Ms(951782400007), "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(formatRfc3339Ms(4102444799999), "2099-12-31T23:59:59.999Z");
}

// The fast path (years 0-9999) agrees with gmtime_r at every day boundary and leap rule.
TEST(FormatRfc3339Ms, AgreesWithGmtimeAcrossCenturies) {
  for (int64_t secs = -62135596800; secs < 253402300799; secs += 86400 * 37 + 3671) {
    const time_t t = static_cast<time_t>(secs);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char want[64];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.042Z", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    ASSERT_EQ(formatRfc3339Ms(secs * 1000 + 42), want) << secs;
  }
  EXPECT_EQ(formatRfc3339Ms(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(formatRfc3339Ms(-62135596800000), "0001-01-01T00:00:00.000Z");
}

TEST(FormatRfc3339Ms, InstantsBeforeTheEpochKeepAPositiveMillisecondPart) {
  EXPECT_EQ(formatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatRfc3339Ms(-1000), "1969-12-31T23:59:59.000Z");
}

TEST(Clocks, WallClockIsNearNowAndMonotonicDoesNotGoBack) {
  EXPECT_GT(nowUnixMs(), 1700000000000);  // after 2023
  const int64_t a = monotonicMs();
  const int64_t b = monotonicMs();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace courier
