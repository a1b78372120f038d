// What the daemon answers for each request kind (API.md "Request kinds"; COMPAT.md records).
#pragma once

#include <atomic>
#include <string>

#include "courier/daemon/config.h"

namespace courier::daemon {

// How a request ended on this side, before it is reported.
struct Outcome {
  bool ok = false;      // completed, else failed
  std::string result;   // a JSON object's text, or "" for none
  std::string error;    // for a failure
  std::string summary;  // a few words for the log: "3 skills", "exit status 0"
};

// The update command's time limit: below the update kind's running timeout (150 s), so the
// report still arrives in time.
inline constexpr int kUpdateTimeoutMs = 120 * 1000;
// Output kept from the update command (its last bytes), and the tail quoted in an error.
inline constexpr size_t kUpdateOutputBytes = 1 << 20;
inline constexpr size_t kUpdateErrorTailBytes = 4096;

// True for kinds answered at once from the configuration (ping, model_list, and kinds this
// daemon does not know); the others read the disk or run a program and go to a worker thread.
bool answersInline(const std::string& kind);

// Handles one request. Blocking for the non-inline kinds; `cancel` stops a running update
// command. Never throws.
Outcome handleRequest(const std::string& kind, const std::string& payload_json,
                      const Config& config, const std::atomic<bool>* cancel);

}  // namespace courier::daemon
