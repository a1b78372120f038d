#include "courier/util/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace courier {

namespace {

// Days since 1970-01-01 → civil date (Howard Hinnant's civil_from_days): no locale, no time
// zone lookup, no lock — every record rendered carries two of these.
void civilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

void putDigits(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string formatRfc3339Ms(int64_t unix_ms) {
  // Floor division, so instants before 1970 still get a 0..999 millisecond part.
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t year = 0;
  unsigned month = 0, day = 0;
  civilFromDays(days, &year, &month, &day);
  if (year < 0 || year > 9999) {
    // Outside what four digits hold: the slow, general way (a 9-digit year, or a sign).
    const time_t t = static_cast<time_t>(secs);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    return buf;
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  putDigits(&out[0], static_cast<unsigned>(year), 4);
  putDigits(&out[5], month, 2);
  putDigits(&out[8], day, 2);
  putDigits(&out[11], static_cast<unsigned>(rem / 3600), 2);
  putDigits(&out[14], static_cast<unsigned>(rem % 3600 / 60), 2);
  putDigits(&out[17], static_cast<unsigned>(rem % 60), 2);
  putDigits(&out[20], static_cast<unsigned>(ms), 3);
  return out;
}

int64_t nowUnixMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t monotonicMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace courier
