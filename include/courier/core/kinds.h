// The request kinds and their timing: the table of API.md "Request kinds", overridable per kind
// with --kinds. Immutable once the node starts; shared read-only by every worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "courier/util/result.h"

namespace courier {

enum class Creator { kMember, kRuntimeOwner };

struct KindSpec {
  std::string name;
  Creator creator = Creator::kMember;
  int64_t pending_timeout_ms = 0;
  int64_t running_timeout_ms = 0;
  int64_t retention_ms = 0;
  int64_t claim_lease_ms = 0;
  int max_attempts = 1;
  bool coalesce = false;   // a create while one is pending returns that one
  bool exclusive = false;  // at most one live request per runtime (409 update_in_progress)
};

class KindTable {
 public:
  // The built-in table (API.md).
  static KindTable builtin();

  // Applies `{"ping": {"pending_timeout_ms": 2000, ...}}` overrides. Rejects unknown kinds,
  // unknown fields and values out of range (timeouts 1 ms – 1 day, attempts 1–100), with a
  // message naming the culprit.
  Result<Unit, std::string> applyOverrides(std::string_view json);

  const KindSpec* find(std::string_view name) const;
  // In the order a heartbeat serves them: update, model_list, local_skill_list,
  // local_skill_import, then ping.
  const std::vector<KindSpec>& all() const { return kinds_; }
  // The longest a request of any kind can live: every attempt timing out, then retention.
  int64_t longestLifeMs() const;

 private:
  std::vector<KindSpec> kinds_;
};

}  // namespace courier
