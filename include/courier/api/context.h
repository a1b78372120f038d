// What the handlers of one worker share. Everything here belongs to that worker's thread,
// except `kinds`, which is immutable and shared by all workers.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "courier/api/auth.h"
#include "courier/api/errors.h"
#include "courier/core/kinds.h"
#include "courier/core/store.h"
#include "courier/core/waiters.h"
#include "courier/http/request.h"
#include "courier/http/responder.h"
#include "courier/http/router.h"
#include "courier/redis/client.h"

struct event_base;

namespace courier::api {

struct Context {
  event_base* base = nullptr;
  const KindTable& kinds;
  redis::Client& redis;
  Store& store;
  Waiters& waiters;
  Auth& auth;
  // Readiness beyond the command connection (the subscriber); set by the worker.
  std::function<bool()> ready;
  // The node's metrics in the Prometheus text format.
  std::function<std::string()> metrics;
};

// Authenticates, then calls fn(Request&&, Responder&&, Caller&&); answers 401/403/503 itself.
template <class F>
void withCaller(Context& ctx, http::Request&& req, http::Responder&& res, Caller::Kind kind, F fn,
                bool allow_query = false) {
  auto call =
      std::make_shared<std::pair<http::Request, http::Responder>>(std::move(req), std::move(res));
  ctx.auth.authenticate(
      call->first, kind,
      [call, fn = std::move(fn)](ApiResult<Caller> caller) mutable {
        if (!caller) return sendError(call->second, caller.error());
        fn(std::move(call->first), std::move(call->second), std::move(*caller));
      },
      allow_query);
}

// The channel of a runtime's wake-ups.
inline std::string eventsChannel(const std::string& ws, const std::string& rt) {
  return Store::prefix(ws) + "rt:" + rt + ":events";
}

// A GET of a request, answered when its version passes `version` (or it is terminal), or when
// the wait runs out. `kind` (optional) must match, else 404; `render` (optional) shapes the
// record (the compatibility routes flatten it).
struct GetSpec {
  std::string workspace;
  std::string runtime_id;
  std::string id;
  std::optional<int64_t> version;
  std::string kind;
  std::string (*render)(const Record&) = nullptr;
  // Non-empty: only this user, if they own the runtime, may read it (403 otherwise).
  std::string owner_only_user;
};
void parkGet(Context& ctx, GetSpec spec, int64_t wait_ms, int fd, http::Responder&& res);

// Creates a request; a daemon's claim parked on this worker for the runtime gets it in the
// create's own script (Waiters::beginHandoff): no wake-up, no claim round trip.
void createRequest(Context& ctx, CreateArgs args, std::function<void(ApiResult<CreateOutcome>)> cb);

void addFrontendRoutes(http::Router& router, Context& ctx);
void addDaemonRoutes(http::Router& router, Context& ctx);
void addAdminRoutes(http::Router& router, Context& ctx);
void addOpsRoutes(http::Router& router, Context& ctx);
void addCompatRoutes(http::Router& router, Context& ctx);
void addSkillRoutes(http::Router& router, Context& ctx);
void addCompatFrontendRoutes(http::Router& router, Context& ctx);
void addEventRoutes(http::Router& router, Context& ctx);

}  // namespace courier::api
