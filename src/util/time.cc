#include "courier/util/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace courier {

std::string formatRfc3339Ms(int64_t unix_ms) {
  // Floor division, so instants before 1970 still get a 0..999 millisecond part.
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  const time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);  // gmtime_r, not gmtime: log lines are formatted on every worker thread.
  // Room for any int64 instant (a 9-digit year), which -Wformat-truncation insists on.
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
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
