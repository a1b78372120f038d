// JSON in and out. RapidJSON 1.1.0's default recursive parser crashes on deep nesting and takes
// duplicate keys and invalid UTF-8: every body goes through parseJson, which parses iteratively,
// validates UTF-8, and enforces the depth limit and unique keys.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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
