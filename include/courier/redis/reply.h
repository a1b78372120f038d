// A Redis reply copied out of hiredis' redisReply, so it outlives the callback that got it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "courier/util/result.h"

namespace courier::redis {

struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString and kStatus
  std::vector<Reply> elements;

  bool isNil() const { return type == Type::kNil; }
  bool isArray() const { return type == Type::kArray; }
  // The element's text whether it came as a bulk string, a status or an integer.
  std::string text() const;
  // An integer reply, or a string reply holding an integer; `fallback` otherwise.
  int64_t asInt(int64_t fallback = 0) const;
};

enum class Errc {
  kUnavailable,  // not connected, connecting, in backoff, or the in-flight cap is reached
  kTimeout,      // the link stalled: the oldest in-flight command waited past the command timeout
  kDisconnected, // the link dropped while the command was in flight (outcome unknown)
  kServer,       // Redis answered with an error reply (message holds it, e.g. "ERR ...")
};

using RedisError = Error<Errc>;
using ReplyResult = Result<Reply, RedisError>;

}  // namespace courier::redis
