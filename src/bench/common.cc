#include "courier/bench/common.h"

#include <signal.h>
#include <time.h>

#include <cstdio>

namespace courier::bench {

std::atomic<bool> g_interrupted{false};

namespace {

void onInterrupt(int) { g_interrupted.store(true); }

}  // namespace

int64_t nowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void installInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = &onInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  // A peer that closes a socket mid-write must not kill the harness.
  ::signal(SIGPIPE, SIG_IGN);
}

std::string fmtDouble(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace courier::bench
