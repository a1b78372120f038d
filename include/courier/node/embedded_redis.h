// The embedded default: with no Redis URL configured, the node runs a private redis-server
// child on a Unix socket in a temp dir, and stops it on exit. The child is told to die with us
// (PR_SET_PDEATHSIG), so a crashed node leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <string>

#include "courier/util/result.h"

namespace courier::node {

class EmbeddedRedis {
 public:
  EmbeddedRedis() = default;
  ~EmbeddedRedis();
  EmbeddedRedis(const EmbeddedRedis&) = delete;
  EmbeddedRedis& operator=(const EmbeddedRedis&) = delete;

  // Starts redis-server (from PATH) and waits until it answers PING. Blocking: call at start.
  Result<Unit, std::string> start();
  void stop();
  std::string url() const { return "unix://" + socket_; }

 private:
  pid_t pid_ = -1;
  std::string dir_;
  std::string socket_;
};

}  // namespace courier::node
