// What courier-bench asks Redis between runs: INFO counters and a few admin commands, over one
// synchronous hiredis connection of its own (never used inside a measured loop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "courier/bench/common.h"

struct redisContext;

namespace courier::bench {

// Counters read from one INFO call.
struct RedisSnapshot {
  std::map<std::string, int64_t> calls;  // per command, from INFO commandstats
  int64_t total_calls = 0;               // sum of `calls` (includes calls made inside scripts)
  int64_t total_commands_processed = 0;  // INFO stats
  int64_t cpu_us = 0;                    // used_cpu_sys + used_cpu_user
  int64_t connected_clients = 0;
  int64_t used_memory = 0;
};

// The difference of two snapshots, per completed request where that makes sense.
struct RedisDelta {
  int64_t calls = 0;         // every command, including those run inside scripts
  int64_t script_calls = 0;  // EVALSHA + EVAL + FCALL: top-level by construction
  int64_t cpu_us = 0;
  std::map<std::string, int64_t> by_command;
};

class RedisProbe {
 public:
  explicit RedisProbe(Endpoint endpoint);
  ~RedisProbe();
  RedisProbe(const RedisProbe&) = delete;
  RedisProbe& operator=(const RedisProbe&) = delete;

  // Runs one command; the reply as text (arrays joined by '\n'), nullopt if Redis is unreachable
  // or answered an error (then error() says which).
  std::optional<std::string> command(const std::vector<std::string>& argv);
  std::optional<RedisSnapshot> snapshot();
  const std::string& error() const { return error_; }

  // The commands this probe itself issued (its INFO calls show up in the counters it reads).
  int64_t ownCommands() const { return own_commands_; }

 private:
  bool connect();

  Endpoint endpoint_;
  redisContext* ctx_ = nullptr;
  std::string error_;
  int64_t own_commands_ = 0;
};

// after − before, minus `own_commands` probe calls (INFO) made in between.
RedisDelta diff(const RedisSnapshot& before, const RedisSnapshot& after, int64_t own_commands);

}  // namespace courier::bench
