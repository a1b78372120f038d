// JSON in and out. RapidJSON 1.1.0's default recursive parser crashes on deep nesting and takes
// duplicate keys and invalid UTF-8: every body goes through parseJson, which parses iteratively,
// validates UTF-8, and enforces the depth limit and unique keys.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "courier/util/result.h"

namespace courier {

inline constexpr int kMaxJsonDepth = 64;

// Parses `text` into `doc`. On failure returns a human message ("invalid JSON at offset 12",
// "JSON nesting deeper than 64", "duplicate key \"id\"", "invalid UTF-8").
Result<Unit, std::string> parseJson(std::string_view text, rapidjson::Document& doc,
                                    int max_depth = kMaxJsonDepth);

// Serializes any RapidJSON value.
std::string toJson(const rapidjson::Value& value);

// Serializes with every object's keys sorted (recursively): two documents that differ only in key
// order serialize the same, so stored payloads can be compared as text (Idempotency-Key
// replays). Values nest at most kMaxJsonDepth deep (parseJson enforces it).
std::string toCanonicalJson(const rapidjson::Value& value);

// Appends `s` as a quoted, escaped JSON string (for hand-assembled bodies on hot paths).
void appendJsonString(std::string& out, std::string_view s);

// True if `text` is a valid JSON document within the limits (used on raw JSON stored in Redis
// before splicing it into a response).
bool isValidJson(std::string_view text, int max_depth = kMaxJsonDepth);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes one JSON object into `out`, by hand (hot paths and fixed shapes): `{` now, `}` when
// it goes out of scope, and `"name":` after a comma unless it opens the object.
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~JsonObjectWriter() { out_ += '}'; }
  JsonObjectWriter(const JsonObjectWriter&) = delete;
  JsonObjectWriter& operator=(const JsonObjectWriter&) = delete;

  void str(const char* name, std::string_view v) {
    key(name);
    appendJsonString(out_, v);
  }
  // An empty string is written as null.
  void strOrNull(const char* name, std::string_view v);
  // RFC 3339 with milliseconds, UTC.
  void time(const char* name, int64_t unix_ms);
  void integer(const char* name, int64_t v) {
    key(name);
    out_ += std::to_string(v);
  }
  // JSON text serialized by us, spliced as it is; `fallback` when empty.
  void raw(const char* name, std::string_view json, std::string_view fallback = "null") {
    key(name);
    out_ += json.empty() ? fallback : json;
  }

 private:
  void key(const char* name) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += name;
    out_ += "\":";
  }

  std::string& out_;
  bool first_ = true;
};

// The first few KiB of a Document's values, on the stack: parsing a small body then costs no
// heap chunk (RapidJSON's default pool takes 64 KiB from malloc for every document, which on
// the hot path is most of a parse's cost). Larger documents spill to the heap as usual.
//   JsonArena arena;
//   rapidjson::Document doc(rapidjson::kNullType, &arena.allocator);
struct JsonArena {
  JsonArena() = default;
  JsonArena(const JsonArena&) = delete;
  JsonArena& operator=(const JsonArena&) = delete;

  alignas(8) char buffer[4096];
  rapidjson::MemoryPoolAllocator<> allocator{buffer, sizeof buffer};
};

}  // namespace courier
