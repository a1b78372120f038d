#include "courier/redis/reply.h"

#include <hiredis/hiredis.h>

#include <charconv>

namespace courier::redis {

namespace {

// Copies `r` into `out`. Returns the first error reply found (at any depth), if any: the caller
// then reports the whole reply as that error.
const redisReply* copyInto(const redisReply& r, Reply* out) {
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out->type = Reply::Type::kString;
      out->str.assign(r.str, r.len);
      return nullptr;
    case REDIS_REPLY_STATUS:
      out->type = Reply::Type::kStatus;
      out->str.assign(r.str, r.len);
      return nullptr;
    case REDIS_REPLY_INTEGER:
      out->type = Reply::Type::kInteger;
      out->integer = r.integer;
      return nullptr;
    case REDIS_REPLY_NIL:
      out->type = Reply::Type::kNil;
      return nullptr;
    case REDIS_REPLY_ERROR:
      return &r;
    case REDIS_REPLY_ARRAY: {
      out->type = Reply::Type::kArray;
      out->elements.resize(r.elements);
      for (size_t i = 0; i < r.elements; ++i) {
        if (r.element[i] == nullptr) continue;  // left kNil
        if (const redisReply* err = copyInto(*r.element[i], &out->elements[i])) return err;
      }
      return nullptr;
    }
    default:
      // RESP3 types do not exist in hiredis 0.14; treat anything unknown as nil.
      out->type = Reply::Type::kNil;
      return nullptr;
  }
}

}  // namespace

std::string Reply::text() const {
  switch (type) {
    case Type::kString:
    case Type::kStatus:
      return str;
    case Type::kInteger:
      return std::to_string(integer);
    default:
      return {};
  }
}

int64_t Reply::asInt(int64_t fallback) const {
  if (type == Type::kInteger) return integer;
  if (type != Type::kString && type != Type::kStatus) return fallback;
  int64_t v = 0;
  const char* end = str.data() + str.size();
  auto [p, ec] = std::from_chars(str.data(), end, v);
  if (ec != std::errc() || p != end || str.empty()) return fallback;
  return v;
}

ReplyResult copyReply(const redisReply& reply) {
  Reply out;
  if (const redisReply* err = copyInto(reply, &out)) {
    return fail(RedisError{Errc::kServer, std::string(err->str, err->len)});
  }
  return out;
}

}  // namespace courier::redis
