#include "courier/redis/link.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include <algorithm>

namespace courier::redis {

timeval toTimeval(int64_t ms) {
  ms = std::max<int64_t>(ms, 0);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

int64_t backoffDelayMs(int attempt, int min_ms, int max_ms, std::mt19937_64& rng) {
  int64_t lo = std::max(1, min_ms);
  int64_t hi = std::max<int64_t>(lo, max_ms);
  int64_t cap = std::clamp<int64_t>(lo << std::min(attempt, 20), lo, hi);
  return std::uniform_int_distribution<int64_t>(lo, cap)(rng);
}

redisAsyncContext* openAsyncLink(event_base* base, const Endpoint& endpoint, void* data,
                                 LinkCallback on_connect, LinkCallback on_disconnect,
                                 std::string* error) {
  redisAsyncContext* ac = endpoint.unix_path.empty()
                              ? redisAsyncConnect(endpoint.host.c_str(), endpoint.port)
                              : redisAsyncConnectUnix(endpoint.unix_path.c_str());
  if (ac == nullptr || ac->err != 0) {
    std::string why = ac != nullptr && ac->errstr != nullptr ? ac->errstr : "out of memory";
    if (ac != nullptr) redisAsyncFree(ac);  // not attached yet: frees synchronously, no callbacks
    *error = "connect to " + endpoint.describe() + " failed: " + why;
    return nullptr;
  }
  if (redisLibeventAttach(ac, base) != REDIS_OK) {
    redisAsyncFree(ac);
    *error = "cannot attach hiredis to libevent";
    return nullptr;
  }
  ac->data = data;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  return ac;
}

}  // namespace courier::redis
