#include "courier/core/kinds.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "courier/util/json.h"

namespace courier {

KindTable KindTable::builtin() {
  constexpr int64_t kSec = 1000;
  constexpr int64_t kMin = 60 * kSec;
  KindTable t;
  // Heartbeat order first (COMPAT.md): update, model list, local-skill list, import.
  t.kinds_ = {
      {"update", Creator::kRuntimeOwner, 120 * kSec, 150 * kSec, 5 * kMin, 150 * kSec, 1, false,
       true},
      {"model_list", Creator::kMember, 30 * kSec, 60 * kSec, 2 * kMin, 15 * kSec, 3, false, false},
      {"local_skill_list", Creator::kMember, 3 * kMin, 60 * kSec, 5 * kMin, 15 * kSec, 3, true,
       false},
      {"local_skill_import", Creator::kRuntimeOwner, 3 * kMin, 60 * kSec, 5 * kMin, 15 * kSec, 3,
       false, false},
      {"ping", Creator::kMember, 30 * kSec, 30 * kSec, 2 * kMin, 15 * kSec, 3, false, false},
  };
  return t;
}

int64_t KindTable::longestLifeMs() const {
  int64_t longest = 0;
  for (const auto& k : kinds_) {
    longest = std::max(
        longest, k.max_attempts * (k.pending_timeout_ms + k.running_timeout_ms) + k.retention_ms);
  }
  return longest;
}

const KindSpec* KindTable::find(std::string_view name) const {
  for (const auto& k : kinds_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

Result<Unit, std::string> KindTable::applyOverrides(std::string_view json) {
  rapidjson::Document doc;
  if (auto parsed = parseJson(json, doc); !parsed) return fail("kinds: " + parsed.error());
  if (!doc.IsObject()) return fail(std::string("kinds: expected a JSON object of kinds"));
  constexpr int64_t kMaxMs = 24LL * 3600 * 1000;
  for (auto& member : doc.GetObject()) {
    std::string name = member.name.GetString();
    KindSpec* spec = nullptr;
    for (auto& k : kinds_) {
      if (k.name == name) spec = &k;
    }
    if (spec == nullptr) return fail("kinds: unknown kind \"" + name + "\"");
    if (!member.value.IsObject()) return fail("kinds: \"" + name + "\" must be an object");
    for (auto& field : member.value.GetObject()) {
      std::string key = field.name.GetString();
      if (!field.value.IsInt64()) return fail("kinds: " + name + "." + key + " must be an integer");
      int64_t v = field.value.GetInt64();
      int64_t* target = nullptr;
      if (key == "pending_timeout_ms") target = &spec->pending_timeout_ms;
      if (key == "running_timeout_ms") target = &spec->running_timeout_ms;
      if (key == "retention_ms") target = &spec->retention_ms;
      if (key == "claim_lease_ms") target = &spec->claim_lease_ms;
      if (target != nullptr) {
        if (v < 1 || v > kMaxMs) {
          return fail("kinds: " + name + "." + key + " must be between 1 and " +
                      std::to_string(kMaxMs));
        }
        *target = v;
      } else if (key == "max_attempts") {
        if (v < 1 || v > 100) return fail("kinds: " + name + ".max_attempts must be 1-100");
        spec->max_attempts = static_cast<int>(v);
      } else {
        return fail("kinds: unknown field " + name + "." + key);
      }
    }
  }
  return Unit{};
}

}  // namespace courier
