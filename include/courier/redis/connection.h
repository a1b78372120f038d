// An async hiredis command connection on one libevent loop, with the timeouts and reconnects
// hiredis 0.14 lacks. Owned by, and only ever touched from, its worker's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "courier/redis/client.h"
#include "courier/redis/endpoint.h"
#include "courier/redis/scripts.h"

struct event_base;

namespace courier::redis {

struct ConnectionOptions {
  int connect_timeout_ms = 1000;
  // hiredis 0.14 has no command timeout: if the oldest in-flight command waits this long, the
  // link is considered stalled and is dropped, which fails every in-flight callback.
  int command_timeout_ms = 2000;
  size_t max_in_flight = 20000;  // beyond this, commands fail fast with kUnavailable
  int backoff_min_ms = 50;
  int backoff_max_ms = 2000;  // capped exponential backoff with full jitter in between
};

struct ConnectionStats {
  uint64_t commands = 0;    // commands sent (EVALSHA counts one, a NOSCRIPT retry one more)
  uint64_t reconnects = 0;  // successful connects after the first
  uint64_t failures = 0;    // callbacks completed with an error
};

// State machine: kIdle → kConnecting → kHandshake (PING, SCRIPT LOAD) → kReady;
// any failure → kBackoff → kConnecting …; stop() → kStopped.
class Connection final : public Client {
 public:
  enum class State { kIdle, kConnecting, kHandshake, kReady, kBackoff, kStopped };

  Connection(event_base* base, Endpoint endpoint, const ScriptRegistry& scripts,
             ConnectionOptions options = {});
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Disconnects and fails every in-flight callback with kUnavailable; no reconnect afterwards.
  void stop();

  void command(std::vector<std::string> argv, ReplyCallback cb) override;
  void evalScript(std::string_view name, std::vector<std::string> keys,
                  std::vector<std::string> args, ReplyCallback cb) override;
  bool ready() const override;

  State state() const;
  size_t inFlight() const;
  const ConnectionStats& stats() const;

  // Called on every change of readiness (true once the handshake succeeded, false when the link
  // is lost). Waiters re-check parked calls when it turns true again.
  void setOnReadyChange(std::function<void(bool ready)> cb);
  // Called with the round-trip time of every completed command (for the metrics histogram).
  void setOnRoundTrip(std::function<void(double seconds)> cb);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::redis
