// Courier's state in Redis, as typed asynchronous operations. Each lifecycle operation is one
// Lua script call (lua/), so nodes never race each other; this class builds the keys of the
// caller's workspace (every key carries the hash tag {ws:W}), passes the arguments and turns
// replies into values. One Store per worker, on that worker's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "courier/core/errors.h"
#include "courier/core/kinds.h"
#include "courier/core/metrics.h"
#include "courier/core/record.h"
#include "courier/redis/client.h"

namespace courier {

// A record and the milliseconds until its next deadline (-1: none), measured by Redis.
struct RecordRead {
  Record record;
  int64_t next_deadline_ms = -1;
  std::string runtime_owner;  // only when asked for (Store::get with_owner)
};

struct ClaimedRequest {
  std::string id;
  std::string runtime_id;
  std::string kind;
  std::string payload;
  int64_t attempt = 0;
  int64_t lease_expires_ms = 0;
};

struct CreateArgs {
  std::string workspace;
  std::string runtime_id;
  const KindSpec* kind = nullptr;
  std::string payload;  // JSON text
  std::string creator;  // user id
  std::string idempotency_key;
  // A claim parked on this node that the new request may go to at once (lua/create.lua):
  // its consumer ("" for none) and how many requests it takes at most.
  std::string handoff_consumer;
  int handoff_max = 0;
};

struct CreateOutcome {
  bool created = false;  // false: an existing record (idempotent repeat or coalesced list)
  RecordRead read;
  // Handed to the handoff consumer by the create itself (the new request, or older ones).
  std::vector<ClaimedRequest> handed;
};

struct ClaimArgs {
  std::string workspace;
  std::string consumer;
  std::vector<std::string> runtime_ids;
  int max = 10;
  bool heartbeat = false;  // compatibility claim: per-kind caps, lease = running timeout
  // Per-kind caps in serving order; empty: every kind up to `max`.
  std::vector<std::pair<std::string, int>> kind_caps;
};

struct ClaimOutcome {
  std::vector<ClaimedRequest> requests;
  int64_t next_deadline_ms = -1;
};

enum class ReportOutcome { kOk, kIgnored };

struct ReportArgs {
  std::string workspace;
  std::string runtime_id;
  std::string id;
  std::optional<int64_t> attempt;  // nullopt: the current attempt (compatibility reports)
  std::string status;              // completed | failed
  std::string result;              // JSON text or empty
  std::string error;
  std::string kind;  // the kind the route reports for (compatibility routes), or empty
};

struct RuntimeInfo {
  std::string id;
  std::string name;
  std::string provider;
  std::string owner_user_id;
  int64_t last_seen_ms = 0;  // 0: never
  bool online = false;
};

struct TokenInfo {
  enum class Kind { kUser, kDaemon };
  std::string id;
  Kind kind = Kind::kUser;
  std::string workspace;
  std::string user_id;  // user tokens only
};

struct Skill {
  std::string id;
  std::string name;
  std::string description;
  std::string config;  // JSON text
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t file_count = 0;
  std::string content;     // getSkill only
  std::string files_json;  // getSkill only: [{id, skill_id, path, content}]
};

struct WorkspaceInfo {
  std::string id;
  std::string name;
  int64_t created_ms = 0;
};

struct CreatedToken {
  std::string id;
  std::string token;  // shown once
  TokenInfo info;
};

class Store {
 public:
  template <class T>
  using Callback = std::function<void(ApiResult<T>)>;

  // `metrics` (optional, owned by the worker) counts creates, claims and ends.
  Store(redis::Client& redis, const KindTable& kinds, WorkerMetrics* metrics = nullptr);

  void create(const CreateArgs& args, Callback<CreateOutcome> cb);
  void claim(const ClaimArgs& args, Callback<ClaimOutcome> cb);
  // Gives back a claim whose client hung up before it got it (not a delivery).
  void release(const std::string& ws, const ClaimedRequest& req, const std::string& consumer,
               Callback<bool> cb);
  void extend(const std::string& ws, const std::string& rt, const std::string& id, int64_t attempt,
              Callback<int64_t> cb);
  void report(const ReportArgs& args, Callback<ReportOutcome> cb);
  void get(const std::string& ws, const std::string& rt, const std::string& id,
           Callback<RecordRead> cb, bool with_owner = false);
  void cancel(const std::string& ws, const std::string& rt, const std::string& id,
              Callback<Record> cb);

  // `created` is false when the runtime existed (it is updated).
  struct Registered {
    RuntimeInfo runtime;
    bool created = false;
  };
  void registerRuntime(const std::string& ws, const RuntimeInfo& rt, Callback<Registered> cb);
  void listRuntimes(const std::string& ws, Callback<std::vector<RuntimeInfo>> cb);

  void listSkills(const std::string& ws, Callback<std::vector<Skill>> cb);
  void getSkill(const std::string& ws, const std::string& id, Callback<Skill> cb);

  void createWorkspace(const std::string& name, Callback<WorkspaceInfo> cb);
  void createToken(const std::string& ws, TokenInfo::Kind kind, const std::string& user_id,
                   Callback<CreatedToken> cb);
  void revokeToken(const std::string& token_id, Callback<bool> cb);
  // By the SHA-256 of the token; nullopt if unknown or revoked.
  void lookupToken(const std::string& token_sha, Callback<std::optional<TokenInfo>> cb);

  static std::string prefix(const std::string& ws) { return "courier:{ws:" + ws + "}:"; }

 private:
  // Unwraps the script envelope {reply, ended} and counts the ends.
  template <class T, class F>
  void runScript(const char* name, std::vector<std::string> keys, std::vector<std::string> args,
                 Callback<T> cb, F on_reply);
  void countEnded(const redis::Reply& ended);
  void count(std::array<Counter, kMaxKinds> WorkerMetrics::*counters, const std::string& kind);

  redis::Client& redis_;
  const KindTable& kinds_;
  WorkerMetrics* metrics_;
};

// Turns a failed Redis call into the caller's error: unavailable or stalled → 503
// store_unavailable; an error reply → 500 store_error.
ApiError storeError(const redis::RedisError& e);

}  // namespace courier
