#include "courier/bench/record.h"

#include <rapidjson/document.h>

#include "courier/util/json.h"

namespace courier::bench {
namespace {

// Bodies come from the server under test, but the parser is still the iterative one: a
// misbehaving server must not crash the harness.
bool parseObject(std::string_view body, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  return !doc.HasParseError() && doc.IsObject();
}

std::string stringField(const rapidjson::Value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

int64_t intField(const rapidjson::Value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

}  // namespace

RecordView parseRecord(std::string_view body) {
  RecordView r;
  JsonArena doc_arena;
  rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
  if (!parseObject(body, doc)) return r;
  r.id = stringField(doc, "id");
  r.status = stringField(doc, "status");
  r.version = intField(doc, "version");
  r.attempt = intField(doc, "attempt");
  r.valid = !r.id.empty() && !r.status.empty();
  return r;
}

bool isTerminal(std::string_view status) {
  return status != "pending" && status != "running" && !status.empty();
}

bool parseClaim(std::string_view body, std::vector<ClaimedView>* out) {
  JsonArena doc_arena;
  rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
  if (!parseObject(body, doc)) return false;
  const auto it = doc.FindMember("requests");
  if (it == doc.MemberEnd() || !it->value.IsArray()) return false;
  for (const auto& item : it->value.GetArray()) {
    if (!item.IsObject()) return false;
    out->push_back(
        {stringField(item, "id"), stringField(item, "runtime_id"), intField(item, "attempt")});
  }
  return true;
}

bool parseHeartbeat(std::string_view body, std::string* model_list_id) {
  JsonArena doc_arena;
  rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
  if (!parseObject(body, doc)) return false;
  model_list_id->clear();
  const auto it = doc.FindMember("pending_model_list");
  if (it != doc.MemberEnd() && it->value.IsObject()) *model_list_id = stringField(it->value, "id");
  return true;
}

}  // namespace courier::bench
