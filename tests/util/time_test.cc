#include "courier/util/time.h"

#include <gtest/gtest.h>

namespace courier {
namespace {

TEST(FormatRfc3339Ms, FormatsKnownInstantsInUtc) {
  EXPECT_EQ(formatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatRfc3339Ms(1764793157123), "2025-12-03T20:19:17.123Z");
  EXPECT_EQ(formatRfc3339Ms(1796329157123), "2026-12-03T20:19:17.123Z");
  EXPECT_EQ(formatRfc3339Ms(951782400007), "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(formatRfc3339Ms(4102444799999), "2099-12-31T23:59:59.999Z");
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
