// A Redis reply copied out of hiredis' redisReply, so it outlives the callback that got it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "courier/util/result.h"

struct redisReply;  // hiredis

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
  kUnavailable,   // not connected, connecting, in backoff, or the in-flight cap is reached
  kTimeout,       // the link stalled: the oldest in-flight command waited past the command timeout
  kDisconnected,  // the link dropped while the command was in flight (outcome unknown)
  kServer,        // Redis answered with an error reply (message holds it, e.g. "ERR ...")
};

using RedisError = Error<Errc>;
using ReplyResult = Result<Reply, RedisError>;

// Deep-copies a hiredis reply tree (hiredis frees it when the callback returns). An error reply
// becomes RedisError{kServer, its text}; so does an array holding an error at any depth (a
// failed command is never mistaken for data). `reply` must not be NULL: hiredis' NULL means
// "the link is gone", which the caller maps to kDisconnected or kTimeout.
ReplyResult copyReply(const redisReply& reply);

}  // namespace courier::redis
