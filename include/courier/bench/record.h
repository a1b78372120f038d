// The few fields of API responses the load loops look at.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace courier::bench {

// A request record (native API): id, status, version, attempt.
struct RecordView {
  std::string id;
  std::string status;
  int64_t version = 0;
  int64_t attempt = 0;
  bool valid = false;
};
RecordView parseRecord(std::string_view body);

bool isTerminal(std::string_view status);

// A claim reply: {"requests":[{id, runtime_id, attempt, ...}]}.
struct ClaimedView {
  std::string id;
  std::string runtime_id;
  int64_t attempt = 0;
};
bool parseClaim(std::string_view body, std::vector<ClaimedView>* out);

// A heartbeat reply's pending model list id ("" when none); false if the body is not the
// expected object.
bool parseHeartbeat(std::string_view body, std::string* model_list_id);

}  // namespace courier::bench
