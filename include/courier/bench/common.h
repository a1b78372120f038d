// Small shared pieces of courier-bench: endpoints, the clock, the stop flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace courier::bench {

// A loopback HTTP or Redis endpoint. Everything the harness talks to binds 127.0.0.1.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 0;

  std::string str() const { return host + ":" + std::to_string(port); }
};

// Monotonic nanoseconds: every latency is a difference of two of these, taken in this process.
int64_t nowNs();

// Set by SIGINT/SIGTERM. Every run polls it (at least every 100 ms) and winds down cleanly, so
// the children it started are stopped by their owners' destructors, not orphaned.
extern std::atomic<bool> g_interrupted;
void installInterruptHandlers();

// "12.3 ms"-style helpers for the progress line and the table.
std::string fmtDouble(double v, int decimals);

}  // namespace courier::bench
