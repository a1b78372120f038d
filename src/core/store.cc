#include "courier/core/store.h"

#include <utility>

#include "courier/util/ids.h"
#include "courier/util/time.h"

namespace courier {
namespace {

using redis::Reply;

constexpr int kMaxLiveRequestsPerRuntime = 1000;

std::string rtKey(const std::string& ws, const std::string& rt) {
  return Store::prefix(ws) + "rt:" + rt;
}
std::string reqKey(const std::string& ws, const std::string& id) {
  return Store::prefix(ws) + "req:" + id;
}
std::string tokenKey(const std::string& sha) { return "courier:token:" + sha; }
std::string tokenIdKey(const std::string& id) { return "courier:tokenid:" + id; }
std::string workspaceKey(const std::string& ws) { return Store::prefix(ws) + "meta"; }

// The 11 public fields of record_reply (lua/lib/common.lua), in order.
Record parseRecord(const Reply& r) {
  Record rec;
  if (!r.isArray() || r.elements.size() < 11) return rec;
  const auto& e = r.elements;
  rec.id = e[0].text();
  rec.runtime_id = e[1].text();
  rec.kind = e[2].text();
  rec.status = e[3].text();
  rec.version = e[4].asInt();
  rec.attempt = e[5].asInt();
  rec.payload = e[6].text();
  rec.result = e[7].text();
  rec.error = e[8].text();
  rec.created_ms = e[9].asInt();
  rec.updated_ms = e[10].asInt();
  return rec;
}

// {id, runtime, kind, payload, attempt, lease deadline ms}, as claim.lua and create.lua return
// a claimed request.
ApiResult<ClaimedRequest> parseClaimed(const Reply& r) {
  const auto& e = r.elements;
  if (!r.isArray() || e.size() < 6) {
    return fail(apiError(Errc::kStoreError, "malformed claim reply"));
  }
  return ClaimedRequest{e[0].text(), e[1].text(),  e[2].text(),
                        e[3].text(), e[4].asInt(), e[5].asInt()};
}

// {"ok", record, next} → RecordRead, checking the shape so a stray reply is a clean 500.
ApiResult<RecordRead> parseRecordRead(const Reply& r, size_t at) {
  if (!r.isArray() || r.elements.size() < at + 2 || !r.elements[at].isArray()) {
    return fail(apiError(Errc::kStoreError, "unexpected reply from the store"));
  }
  RecordRead read{parseRecord(r.elements[at]), r.elements[at + 1].asInt(-1), ""};
  if (read.record.id.empty()) return fail(apiError(Errc::kNotFound, "request not found"));
  return read;
}

// The first element of every script reply: "ok", "created", or an error code.
std::string statusOf(const Reply& r) {
  if (!r.isArray() || r.elements.empty()) return "";
  return r.elements[0].text();
}

ApiError scriptError(const std::string& code, const std::string& detail = "") {
  if (code == "not_found") return apiError(Errc::kNotFound, "request not found");
  if (code == "runtime_not_found") {
    return apiError(Errc::kNotFound,
                    detail.empty() ? "runtime not found" : "runtime " + detail + " not found");
  }
  if (code == "runtime_offline") {
    return apiError(Errc::kRuntimeOffline, "runtime is offline: no claim from its daemon in 90 s");
  }
  if (code == "forbidden") {
    return apiError(Errc::kForbidden, "only the runtime's owner may create this kind of request");
  }
  if (code == "queue_full") {
    return apiError(Errc::kQueueFull, "the runtime has 1000 live requests; retry later");
  }
  if (code == "update_in_progress") {
    return apiError(Errc::kUpdateInProgress, "an update is already in progress on this runtime");
  }
  if (code == "idempotency_key_reused") {
    return apiError(Errc::kIdempotencyKeyReused,
                    "this Idempotency-Key was used for another request");
  }
  if (code == "lease_lost") {
    return apiError(Errc::kLeaseLost, "this attempt no longer holds the request");
  }
  if (code == "cancelled") return apiError(Errc::kCancelled, "the request was cancelled");
  return apiError(Errc::kStoreError, "unexpected reply from the store: " + code);
}

}  // namespace

ApiError storeError(const redis::RedisError& e) {
  switch (e.code) {
    case redis::Errc::kUnavailable:
    case redis::Errc::kTimeout:
    case redis::Errc::kDisconnected:
      return apiError(Errc::kStoreUnavailable, "the store is unavailable: " + e.message);
    case redis::Errc::kServer:
      break;
  }
  return apiError(Errc::kStoreError, "the store rejected the operation: " + e.message);
}

Store::Store(redis::Client& redis, const KindTable& kinds, WorkerMetrics* metrics)
    : redis_(redis), kinds_(kinds), metrics_(metrics) {}

// Runs a script and hands its reply (or the mapped error) to `on_reply`. Every script answers
// {reply, ended} (scripts/embed-lua); the ends are counted here, once, whoever caused them.
template <class T, class F>
void Store::runScript(const char* name, std::vector<std::string> keys,
                      std::vector<std::string> args, Callback<T> cb, F on_reply) {
  redis_.evalScript(
      name, std::move(keys), std::move(args),
      [this, cb = std::move(cb), on_reply = std::move(on_reply)](redis::ReplyResult r) {
        if (!r) return cb(fail(storeError(r.error())));
        if (!r->isArray() || r->elements.size() != 2) {
          return cb(fail(apiError(Errc::kStoreError, "malformed script reply")));
        }
        countEnded(r->elements[1]);
        cb(on_reply(r->elements[0]));
      });
}

void Store::count(std::array<Counter, kMaxKinds> WorkerMetrics::*counters,
                  const std::string& kind) {
  if (metrics_ == nullptr) return;
  int k = metrics_->kindIndex(kind);
  if (k >= 0) (metrics_->*counters)[k].inc();
}

void Store::countEnded(const redis::Reply& ended) {
  if (metrics_ == nullptr) return;
  for (size_t i = 0; i + 2 < ended.elements.size(); i += 3) {
    int kind = metrics_->kindIndex(ended.elements[i].text());
    int status = WorkerMetrics::statusIndex(ended.elements[i + 1].text());
    if (kind < 0 || status < 0) continue;
    metrics_->ended[kind][status].inc();
    metrics_->duration[kind].observe(static_cast<double>(ended.elements[i + 2].asInt()) / 1000.0);
  }
}

void Store::create(const CreateArgs& a, Callback<CreateOutcome> cb) {
  const KindSpec& k = *a.kind;
  std::vector<std::string> args = {prefix(a.workspace),
                                   a.runtime_id,
                                   randomId(),
                                   k.name,
                                   a.payload,
                                   a.creator,
                                   a.idempotency_key,
                                   std::to_string(k.pending_timeout_ms),
                                   std::to_string(k.running_timeout_ms),
                                   std::to_string(k.claim_lease_ms),
                                   std::to_string(k.retention_ms),
                                   std::to_string(k.max_attempts),
                                   k.coalesce ? "1" : "0",
                                   k.exclusive ? "1" : "0",
                                   std::to_string(kMaxLiveRequestsPerRuntime),
                                   k.creator == Creator::kRuntimeOwner ? "1" : "0",
                                   std::to_string(kinds_.longestLifeMs()),
                                   a.handoff_consumer,
                                   std::to_string(a.handoff_max)};
  runScript<CreateOutcome>("create", {rtKey(a.workspace, a.runtime_id)}, std::move(args),
                           std::move(cb), [this](const Reply& r) -> ApiResult<CreateOutcome> {
                             std::string s = statusOf(r);
                             if (s != "created" && s != "existing") return fail(scriptError(s));
                             auto read = parseRecordRead(r, 1);
                             if (!read) return fail(read.error());
                             if (s == "created") count(&WorkerMetrics::created, read->record.kind);
                             CreateOutcome out{s == "created", std::move(*read), {}};
                             if (r.elements.size() > 3) {
                               for (const auto& e : r.elements[3].elements) {
                                 auto c = parseClaimed(e);
                                 if (!c) return fail(c.error());
                                 out.handed.push_back(std::move(*c));
                                 count(&WorkerMetrics::claimed, out.handed.back().kind);
                               }
                             }
                             return out;
                           });
}

void Store::claim(const ClaimArgs& a, Callback<ClaimOutcome> cb) {
  std::vector<std::string> args = {prefix(a.workspace), a.consumer, std::to_string(a.max),
                                   a.heartbeat ? "1" : "0"};
  if (a.kind_caps.empty()) {
    args.push_back(std::to_string(kinds_.all().size()));
    for (const auto& k : kinds_.all()) {
      args.push_back(k.name);
      args.push_back(std::to_string(a.max));
    }
  } else {
    args.push_back(std::to_string(a.kind_caps.size()));
    for (const auto& [kind, cap] : a.kind_caps) {
      args.push_back(kind);
      args.push_back(std::to_string(cap));
    }
  }
  for (const auto& rt : a.runtime_ids) args.push_back(rt);
  runScript<ClaimOutcome>(
      "claim", {rtKey(a.workspace, a.runtime_ids.front())}, std::move(args), std::move(cb),
      [this](const Reply& r) -> ApiResult<ClaimOutcome> {
        std::string s = statusOf(r);
        if (s != "ok") {
          return fail(scriptError(s, r.elements.size() > 1 ? r.elements[1].text() : ""));
        }
        ClaimOutcome out;
        out.next_deadline_ms = r.elements.size() > 1 ? r.elements[1].asInt(-1) : -1;
        for (size_t i = 2; i < r.elements.size(); ++i) {
          auto c = parseClaimed(r.elements[i]);
          if (!c) return fail(c.error());
          out.requests.push_back(std::move(*c));
          count(&WorkerMetrics::claimed, out.requests.back().kind);
        }
        return out;
      });
}

void Store::release(const std::string& ws, const ClaimedRequest& req, const std::string& consumer,
                    Callback<bool> cb) {
  runScript<bool>("release", {reqKey(ws, req.id)},
                  {prefix(ws), req.runtime_id, req.id, std::to_string(req.attempt), consumer},
                  std::move(cb), [this, kind = req.kind](const Reply& r) -> ApiResult<bool> {
                    if (statusOf(r) != "ok") return false;
                    count(&WorkerMetrics::released, kind);
                    return true;
                  });
}

void Store::extend(const std::string& ws, const std::string& rt, const std::string& id,
                   int64_t attempt, Callback<int64_t> cb) {
  runScript<int64_t>("extend", {reqKey(ws, id)}, {prefix(ws), rt, id, std::to_string(attempt)},
                     std::move(cb), [](const Reply& r) -> ApiResult<int64_t> {
                       std::string s = statusOf(r);
                       if (s != "ok" || r.elements.size() < 2) return fail(scriptError(s));
                       return r.elements[1].asInt();
                     });
}

void Store::report(const ReportArgs& a, Callback<ReportOutcome> cb) {
  runScript<ReportOutcome>(
      "report", {reqKey(a.workspace, a.id)},
      {prefix(a.workspace), a.runtime_id, a.id, a.attempt ? std::to_string(*a.attempt) : "",
       a.status, a.result, a.error, a.kind},
      std::move(cb), [](const Reply& r) -> ApiResult<ReportOutcome> {
        std::string s = statusOf(r);
        if (s == "ok") return ReportOutcome::kOk;
        if (s == "ignored") return ReportOutcome::kIgnored;
        return fail(scriptError(s));
      });
}

void Store::get(const std::string& ws, const std::string& rt, const std::string& id,
                Callback<RecordRead> cb, bool with_owner) {
  runScript<RecordRead>("get", {reqKey(ws, id)}, {prefix(ws), rt, id, with_owner ? "1" : "0"},
                        std::move(cb), [](const Reply& r) -> ApiResult<RecordRead> {
                          std::string s = statusOf(r);
                          if (s != "ok") return fail(scriptError(s));
                          auto read = parseRecordRead(r, 1);
                          if (read && r.elements.size() > 3) {
                            read->runtime_owner = r.elements[3].text();
                          }
                          return read;
                        });
}

void Store::cancel(const std::string& ws, const std::string& rt, const std::string& id,
                   Callback<Record> cb) {
  runScript<Record>("cancel", {reqKey(ws, id)}, {prefix(ws), rt, id}, std::move(cb),
                    [](const Reply& r) -> ApiResult<Record> {
                      std::string s = statusOf(r);
                      if (s != "ok") return fail(scriptError(s));
                      auto read = parseRecordRead(r, 1);
                      if (!read) return fail(read.error());
                      return std::move(read->record);
                    });
}

void Store::registerRuntime(const std::string& ws, const RuntimeInfo& rt, Callback<Registered> cb) {
  runScript<Registered>("register_runtime", {rtKey(ws, rt.id)},
                        {prefix(ws), rt.id, rt.name, rt.provider, rt.owner_user_id}, std::move(cb),
                        [rt](const Reply& r) -> ApiResult<Registered> {
                          std::string s = statusOf(r);
                          if (s != "created" && s != "updated") return fail(scriptError(s));
                          Registered out{rt, s == "created"};
                          out.runtime.online = r.elements.size() > 1 && r.elements[1].asInt() == 1;
                          return out;
                        });
}

void Store::listRuntimes(const std::string& ws, Callback<std::vector<RuntimeInfo>> cb) {
  runScript<std::vector<RuntimeInfo>>(
      "list_runtimes", {prefix(ws) + "runtimes"}, {prefix(ws)}, std::move(cb),
      [](const Reply& r) -> ApiResult<std::vector<RuntimeInfo>> {
        std::vector<RuntimeInfo> out;
        const auto& e = r.elements;
        for (size_t i = 0; i + 5 < e.size(); i += 6) {
          out.push_back({e[i].text(), e[i + 1].text(), e[i + 2].text(), e[i + 3].text(),
                         e[i + 4].asInt(0), e[i + 5].asInt() == 1});
        }
        return out;
      });
}

namespace {

Skill parseSkill(const std::vector<Reply>& e, size_t i) {
  Skill s;
  s.id = e[i].text();
  s.name = e[i + 1].text();
  s.description = e[i + 2].text();
  s.config = e[i + 3].text();
  s.created_by = e[i + 4].text();
  s.created_ms = e[i + 5].asInt();
  s.updated_ms = e[i + 6].asInt();
  s.file_count = e[i + 7].asInt();
  return s;
}

}  // namespace

void Store::listSkills(const std::string& ws, Callback<std::vector<Skill>> cb) {
  runScript<std::vector<Skill>>("list_skills", {prefix(ws) + "skills"}, {prefix(ws)}, std::move(cb),
                                [](const Reply& r) -> ApiResult<std::vector<Skill>> {
                                  std::vector<Skill> out;
                                  for (size_t i = 0; i + 7 < r.elements.size(); i += 8) {
                                    out.push_back(parseSkill(r.elements, i));
                                  }
                                  return out;
                                });
}

void Store::getSkill(const std::string& ws, const std::string& id, Callback<Skill> cb) {
  runScript<Skill>("get_skill", {prefix(ws) + "skill:" + id}, {}, std::move(cb),
                   [](const Reply& r) -> ApiResult<Skill> {
                     if (r.elements.size() < 10) {
                       return fail(apiError(Errc::kNotFound, "skill not found"));
                     }
                     Skill s = parseSkill(r.elements, 0);
                     s.content = r.elements[8].text();
                     s.files_json = r.elements[9].text();
                     return s;
                   });
}

void Store::createWorkspace(const std::string& name, Callback<WorkspaceInfo> cb) {
  WorkspaceInfo ws{randomId(), name, nowUnixMs()};
  redis_.command(
      {"HSET", workspaceKey(ws.id), "name", name, "created", std::to_string(ws.created_ms)},
      [ws, cb = std::move(cb)](redis::ReplyResult r) {
        if (!r) return cb(fail(storeError(r.error())));
        cb(ws);
      });
}

void Store::createToken(const std::string& ws, TokenInfo::Kind kind, const std::string& user_id,
                        Callback<CreatedToken> cb) {
  CreatedToken t{randomId(), randomToken(), {"", kind, ws, user_id}};
  t.info.id = t.id;
  std::string sha = sha256Hex(t.token);
  // The workspace must exist; then the id → hash index first, so a token is never live
  // without a way to revoke it.
  redis_.command({"EXISTS", workspaceKey(ws)}, [this, t, sha,
                                                cb = std::move(cb)](redis::ReplyResult r) mutable {
    if (!r) return cb(fail(storeError(r.error())));
    if (r->asInt() != 1) return cb(fail(apiError(Errc::kNotFound, "workspace not found")));
    redis_.command({"SET", tokenIdKey(t.id), sha},
                   [this, t, sha, cb = std::move(cb)](redis::ReplyResult r) mutable {
                     if (!r) return cb(fail(storeError(r.error())));
                     redis_.command({"HSET", tokenKey(sha), "id", t.id, "kind",
                                     t.info.kind == TokenInfo::Kind::kUser ? "user" : "daemon",
                                     "ws", t.info.workspace, "user", t.info.user_id},
                                    [t, cb = std::move(cb)](redis::ReplyResult r) {
                                      if (!r) return cb(fail(storeError(r.error())));
                                      cb(t);
                                    });
                   });
  });
}

void Store::revokeToken(const std::string& token_id, Callback<bool> cb) {
  redis_.command({"GET", tokenIdKey(token_id)}, [this, token_id,
                                                 cb = std::move(cb)](redis::ReplyResult r) mutable {
    if (!r) return cb(fail(storeError(r.error())));
    if (r->isNil()) return cb(false);
    redis_.command({"DEL", tokenKey(r->text())}, [this, token_id, cb = std::move(cb)](
                                                     redis::ReplyResult r) mutable {
      if (!r) return cb(fail(storeError(r.error())));
      redis_.command({"DEL", tokenIdKey(token_id)}, [cb = std::move(cb)](redis::ReplyResult r) {
        if (!r) return cb(fail(storeError(r.error())));
        cb(true);
      });
    });
  });
}

void Store::lookupToken(const std::string& token_sha, Callback<std::optional<TokenInfo>> cb) {
  redis_.command({"HMGET", tokenKey(token_sha), "id", "kind", "ws", "user"},
                 [cb = std::move(cb)](redis::ReplyResult r) {
                   if (!r) return cb(fail(storeError(r.error())));
                   const auto& e = r->elements;
                   if (e.size() < 4 || e[0].isNil()) return cb(std::optional<TokenInfo>());
                   TokenInfo t;
                   t.id = e[0].text();
                   t.kind =
                       e[1].text() == "daemon" ? TokenInfo::Kind::kDaemon : TokenInfo::Kind::kUser;
                   t.workspace = e[2].text();
                   t.user_id = e[3].text();
                   cb(std::optional<TokenInfo>(std::move(t)));
                 });
}

}  // namespace courier
