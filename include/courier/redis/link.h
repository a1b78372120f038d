// What the command connection and the subscriber share about their hiredis link: opening an
// async context on a loop, the reconnect backoff, and time conversions. Each owner keeps its
// own state machine; these are the pieces that must not differ between the two.
#pragma once

#include <sys/time.h>

#include <cstdint>
#include <random>
#include <string>

#include "courier/redis/endpoint.h"

struct event_base;
struct redisAsyncContext;

namespace courier::redis {

timeval toTimeval(int64_t ms);

// Capped exponential backoff with full jitter: uniform in [min, min(max, min * 2^attempt)].
int64_t backoffDelayMs(int attempt, int min_ms, int max_ms, std::mt19937_64& rng);

using LinkCallback = void (*)(const redisAsyncContext* ac, int status);

// Opens an async context to `endpoint`, attached to `base`, with `data` as ac->data and the
// connect/disconnect callbacks set. Returns nullptr with `*error` set if it could not; nothing
// is left to clean up then (the context was never attached, so no callback will run).
redisAsyncContext* openAsyncLink(event_base* base, const Endpoint& endpoint, void* data,
                                 LinkCallback on_connect, LinkCallback on_disconnect,
                                 std::string* error);

}  // namespace courier::redis
