// Time as the API shows it: RFC 3339 UTC with milliseconds.
#pragma once

#include <cstdint>
#include <string>

namespace courier {

// 1764793157123 → "2025-12-03T20:19:17.123Z"
std::string formatRfc3339Ms(int64_t unix_ms);

// Wall clock, ms since the epoch (only for logs and the node's own bookkeeping; request
// lifecycles use Redis TIME).
int64_t nowUnixMs();
// Monotonic clock in ms.
int64_t monotonicMs();

}  // namespace courier
