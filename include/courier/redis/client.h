// The interface core/ talks to. One implementation (Connection) per worker thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "courier/redis/reply.h"

namespace courier::redis {

// Called exactly once, on the owning loop's thread, and never before the call that issued the
// command has returned.
using ReplyCallback = std::function<void(ReplyResult)>;

class Client {
 public:
  virtual ~Client() = default;

  // Sends one command. Fails fast (kUnavailable) while the link is not ready.
  virtual void command(std::vector<std::string> argv, ReplyCallback cb) = 0;

  // Runs an embedded script by name with EVALSHA; on NOSCRIPT retries once with EVAL (which
  // also loads it). An unknown name is a programming error (kServer with a message).
  virtual void evalScript(std::string_view name, std::vector<std::string> keys,
                          std::vector<std::string> args, ReplyCallback cb) = 0;

  // True once connected, PING answered and every script loaded.
  virtual bool ready() const = 0;
};

}  // namespace courier::redis
