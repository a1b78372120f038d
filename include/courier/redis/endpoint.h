// Where Redis is: a TCP address resolved once at start (name resolution blocks) or a Unix socket.
#pragma once

#include <string>

#include "courier/util/result.h"

namespace courier::redis {

struct Endpoint {
  std::string host;  // numeric IP after resolve(); empty for a Unix socket
  int port = 0;
  std::string unix_path;
  int db = 0;

  std::string describe() const;  // "127.0.0.1:6379" or "unix:///tmp/x.sock"
};

// Parses `redis://HOST:PORT[/DB]` or `unix:///PATH[?db=N]` and resolves HOST to a numeric IP.
// Blocking: call at start, before any event loop runs.
Result<Endpoint, std::string> parseEndpoint(const std::string& url);

}  // namespace courier::redis
