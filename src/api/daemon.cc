// Daemon routes (daemon tokens): registration, the long-poll claim, lease extension, reports.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/api/render.h"
#include "courier/http/peer_watch.h"
#include "courier/util/ids.h"
#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier::api {
namespace {

using http::Method;

constexpr size_t kMaxRuntimesPerClaim = 100;

// A claim parked until at least one request is claimed for it, or its wait runs out.
class ClaimWaiter final : public Waiter {
 public:
  ClaimWaiter(Context& ctx, ClaimArgs args, int fd, http::Responder res)
      : ctx_(ctx), args_(std::move(args)), fd_(fd), res_(std::move(res)) {
    for (const auto& rt : args_.runtime_ids)
      channels_.push_back(eventsChannel(args_.workspace, rt));
    if (fd_ >= 0)
      watch_ = std::make_unique<http::PeerWatch>(ctx_.base, fd_, [this] { clientLeft(); });
  }

  std::string_view type() const override { return "claim"; }
  const std::vector<std::string>& channels() const override { return channels_; }
  const std::string& requestId() const override { return no_request_; }
  bool wakesOn(const WakeEvent& e) const override { return e.status == "pending"; }
  bool peekGone() const override { return fd_ >= 0 && http::PeerWatch::peerGone(fd_); }

  void check(bool final, Done done) override {
    ctx_.store.claim(args_, [this, final, done = std::move(done)](ApiResult<ClaimOutcome> r) {
      if (!r) {
        if (r.error().code == Errc::kStoreUnavailable) return done(Outcome::kUnavailable, -1);
        reply([&](http::Responder& res) { sendError(res, r.error()); });
        return done(Outcome::kAnswered, -1);
      }
      if (r->requests.empty()) {
        if (!final) return done(Outcome::kPark, r->next_deadline_ms);
        reply([](http::Responder& res) { res.send(200, "{\"requests\":[]}"); });
        return done(Outcome::kAnswered, -1);
      }
      drained_ = static_cast<int>(r->requests.size()) < args_.max;
      deliver(r->requests, done, r->next_deadline_ms);
    });
  }

  bool readDrained() const override { return drained_; }

  // Plain claims take handoffs; compatibility (heartbeat) claims have per-kind caps and
  // leases of their own, and always read.
  bool claimsEverything() const override { return !args_.heartbeat && args_.kind_caps.empty(); }

  std::optional<Handoff> handoffFor(const std::string&) const override {
    if (args_.heartbeat || !args_.kind_caps.empty()) return std::nullopt;
    return Handoff{args_.consumer, args_.max};
  }

  void handedOff(std::vector<ClaimedRequest> requests, Done done) override {
    drained_ = false;  // a handoff reads one kind's stream: it says nothing of the others
    deliver(requests, done, -1);
  }

  void abandon(std::string_view code) override {
    reply([&](http::Responder& res) {
      if (code == "store_unavailable") {
        sendError(res, Errc::kStoreUnavailable, "the store is unavailable; retry");
      } else {
        sendError(res, Errc::kInternal, "the claim could not be served");
      }
    });
  }

  void onClientGone() override {
    reply([](http::Responder& res) { sendError(res, Errc::kInternal, "client closed"); });
  }

 private:
  // Answers with claimed requests — or, if the daemon hung up meanwhile, gives them back at
  // once rather than let them wait out their lease.
  void deliver(const std::vector<ClaimedRequest>& requests, const Done& done,
               int64_t next_deadline_ms) {
    if (gone() || peekGone()) {
      for (const auto& req : requests) {
        ctx_.store.release(args_.workspace, req, args_.consumer, [id = req.id](ApiResult<bool> ok) {
          if (!ok) spdlog::warn("release of {} failed: {}", id, ok.error().message);
        });
      }
      onClientGone();
      return done(Outcome::kAnswered, next_deadline_ms);
    }
    reply([&](http::Responder& res) { res.send(200, renderClaimed(requests)); });
    done(Outcome::kAnswered, next_deadline_ms);
  }

  template <class F>
  void reply(F&& f) {
    watch_.reset();
    if (res_.pending()) f(res_);
  }

  Context& ctx_;
  ClaimArgs args_;
  bool drained_ = false;
  std::vector<std::string> channels_;
  std::string no_request_;
  int fd_;
  http::Responder res_;
  std::unique_ptr<http::PeerWatch> watch_;
};

void registerRuntime(Context& ctx, http::Request&& req, http::Responder&& res) {
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kDaemon,
             [&ctx](http::Request&& req, http::Responder&& res, Caller&& caller) {
               JsonArena doc_arena;
               rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
               if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
                 return sendError(res, ok.error());
               auto id = stringField(doc, "id", true);
               if (!id) return sendError(res, id.error());
               if (auto ok = checkId(**id, "id"); !ok) return sendError(res, ok.error());
               auto name = stringField(doc, "name", true);
               if (!name) return sendError(res, name.error());
               auto provider = stringField(doc, "provider", false);
               if (!provider) return sendError(res, provider.error());
               auto owner = stringField(doc, "owner_user_id", true);
               if (!owner) return sendError(res, owner.error());
               if (auto ok = checkId(**owner, "owner_user_id"); !ok)
                 return sendError(res, ok.error());
               RuntimeInfo rt{**id, **name, provider->value_or(""), **owner, 0, false};
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.registerRuntime(
                   caller.workspace, rt,
                   [r, ws = caller.workspace](ApiResult<Store::Registered> out) {
                     if (!out) return sendError(*r, out.error());
                     r->send(out->created ? 201 : 200, renderRuntime(out->runtime, ws));
                   });
             });
}

void claim(Context& ctx, http::Request&& req, http::Responder&& res) {
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kDaemon,
             [&ctx](http::Request&& req, http::Responder&& res, Caller&& caller) {
               auto consumer = req.header("X-Courier-Consumer");
               if (!consumer || !isValidConsumer(*consumer)) {
                 return sendError(res, Errc::kInvalidConsumer,
                                  "header X-Courier-Consumer must match [A-Za-z0-9_.-]{1,64}");
               }
               JsonArena doc_arena;
               rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
               if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
                 return sendError(res, ok.error());
               auto ids = doc.FindMember("runtime_ids");
               if (ids == doc.MemberEnd() || !ids->value.IsArray() || ids->value.Empty() ||
                   ids->value.Size() > kMaxRuntimesPerClaim) {
                 return sendError(res, Errc::kInvalidBody,
                                  "field \"runtime_ids\" must be an array of 1 to 100 runtime ids");
               }
               ClaimArgs args;
               args.workspace = caller.workspace;
               args.consumer = std::string(*consumer);
               for (const auto& v : ids->value.GetArray()) {
                 if (!v.IsString()) {
                   return sendError(res, Errc::kInvalidBody,
                                    "field \"runtime_ids\" must hold strings");
                 }
                 std::string id(v.GetString(), v.GetStringLength());
                 if (auto ok = checkId(id, "runtime id"); !ok) return sendError(res, ok.error());
                 if (std::find(args.runtime_ids.begin(), args.runtime_ids.end(), id) ==
                     args.runtime_ids.end()) {
                   args.runtime_ids.push_back(std::move(id));
                 }
               }
               auto max = intField(doc, "max", false, 1, 100);
               if (!max) return sendError(res, max.error());
               args.max = static_cast<int>(max->value_or(10));
               auto wait = intField(doc, "wait", false, 0, INT64_MAX);
               if (!wait) return sendError(res, wait.error());
               int64_t wait_s = std::min<int64_t>(wait->value_or(0), 60);
               ctx.waiters.add(std::make_unique<ClaimWaiter>(
                                   ctx, std::move(args), wait_s > 0 ? req.fd : -1, std::move(res)),
                               wait_s * 1000);
             });
}

void extendLease(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res) {
  std::string rt(params.get("rt")), id(params.get("id"));
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kDaemon,
             [&ctx, rt, id](http::Request&& req, http::Responder&& res, Caller&& caller) {
               if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
               if (auto ok = checkId(id, "request id"); !ok) return sendError(res, ok.error());
               JsonArena doc_arena;
               rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
               if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
                 return sendError(res, ok.error());
               auto attempt = intField(doc, "attempt", true, 1, INT32_MAX);
               if (!attempt) return sendError(res, attempt.error());
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.extend(caller.workspace, rt, id, **attempt, [r](ApiResult<int64_t> lease) {
                 if (!lease) return sendError(*r, lease.error());
                 std::string body = "{\"lease_expires_at\":";
                 appendJsonString(body, formatRfc3339Ms(*lease));
                 body += '}';
                 r->send(200, body);
               });
             });
}

void reportResult(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res) {
  std::string rt(params.get("rt")), id(params.get("id"));
  withCaller(
      ctx, std::move(req), std::move(res), Caller::Kind::kDaemon,
      [&ctx, rt, id](http::Request&& req, http::Responder&& res, Caller&& caller) {
        if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
        if (auto ok = checkId(id, "request id"); !ok) return sendError(res, ok.error());
        JsonArena doc_arena;
        rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
        if (auto ok = parseBody(req, kDaemonBodyLimit, doc); !ok) return sendError(res, ok.error());
        auto attempt = intField(doc, "attempt", true, 1, INT32_MAX);
        if (!attempt) return sendError(res, attempt.error());
        auto status = stringField(doc, "status", true);
        if (!status) return sendError(res, status.error());
        if (**status != "completed" && **status != "failed") {
          return sendError(res, Errc::kInvalidBody,
                           "field \"status\" must be \"completed\" or \"failed\"");
        }
        auto error = stringField(doc, "error", false);
        if (!error) return sendError(res, error.error());
        std::string result;
        if (auto it = doc.FindMember("result"); it != doc.MemberEnd() && !it->value.IsNull()) {
          if (!it->value.IsObject()) {
            return sendError(res, Errc::kInvalidBody, "field \"result\" must be a JSON object");
          }
          filterMcpServers(it->value);
          result = toJson(it->value);
        }
        ReportArgs args{caller.workspace,    rt, id, **attempt, **status, std::move(result),
                        error->value_or(""), ""};
        auto r = std::make_shared<http::Responder>(std::move(res));
        ctx.store.report(args, [r](ApiResult<ReportOutcome> out) {
          if (!out) return sendError(*r, out.error());
          r->send(200,
                  *out == ReportOutcome::kOk ? "{\"status\":\"ok\"}" : "{\"status\":\"ignored\"}");
        });
      });
}

}  // namespace

void addDaemonRoutes(http::Router& router, Context& ctx) {
  router.add(Method::kPost, "/api/daemon/runtimes", "register_runtime",
             [&ctx](http::Request&& req, http::Params&&, http::Responder&& res) {
               registerRuntime(ctx, std::move(req), std::move(res));
             });
  router.add(Method::kPost, "/api/daemon/claim", "claim",
             [&ctx](http::Request&& req, http::Params&&, http::Responder&& res) {
               claim(ctx, std::move(req), std::move(res));
             });
  router.add(Method::kPost, "/api/daemon/runtimes/{rt}/requests/{id}/lease", "extend_lease",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               extendLease(ctx, std::move(req), std::move(p), std::move(res));
             });
  router.add(Method::kPost, "/api/daemon/runtimes/{rt}/requests/{id}/result", "report",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               reportResult(ctx, std::move(req), std::move(p), std::move(res));
             });
}

}  // namespace courier::api
