// Frontend routes (user tokens): runtimes, requests, and the long-poll GET.
#include <spdlog/spdlog.h>

#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/api/render.h"
#include "courier/http/peer_watch.h"
#include "courier/util/ids.h"
#include "courier/util/json.h"

namespace courier::api {
namespace {

using http::Method;

// Payload rules per kind (API.md "Request kinds"); returns the error or nothing.
std::optional<ApiError> validatePayload(const std::string& kind, const rapidjson::Value& p) {
  auto bad = [](std::string m) { return apiError(Errc::kInvalidPayload, std::move(m)); };
  auto str = [&](const char* name, bool required) -> std::optional<ApiError> {
    auto it = p.FindMember(name);
    if (it == p.MemberEnd() || it->value.IsNull()) {
      if (required) return bad(std::string("payload.") + name + " is required");
      return std::nullopt;
    }
    if (!it->value.IsString()) return bad(std::string("payload.") + name + " must be a string");
    if (required && it->value.GetStringLength() == 0) {
      return bad(std::string("payload.") + name + " must not be empty");
    }
    return std::nullopt;
  };
  if (kind == "local_skill_import") {
    for (auto [name, required] : {std::pair{"skill_key", true},
                                  {"name", false},
                                  {"description", false},
                                  {"action", false},
                                  {"target_skill_id", false}}) {
      if (auto e = str(name, required)) return e;
    }
    auto action = p.FindMember("action");
    bool overwrite = false;
    if (action != p.MemberEnd() && action->value.IsString()) {
      std::string a = action->value.GetString();
      if (a != "" && a != "overwrite") return bad("payload.action must be \"\" or \"overwrite\"");
      overwrite = a == "overwrite";
    }
    auto target = p.FindMember("target_skill_id");
    bool has_target =
        target != p.MemberEnd() && target->value.IsString() && target->value.GetStringLength() > 0;
    if (overwrite && !has_target) return bad("payload.target_skill_id is required to overwrite");
    if (has_target && !isValidId(target->value.GetString())) {
      return apiError(Errc::kInvalidId, "payload.target_skill_id must match [A-Za-z0-9_-]{1,64}");
    }
    auto sc = p.FindMember("supports_conflict");
    if (sc != p.MemberEnd() && !sc->value.IsBool() && !sc->value.IsNull()) {
      return bad("payload.supports_conflict must be a boolean");
    }
  } else if (kind == "update") {
    if (auto e = str("target_version", true)) return e;
  }
  return std::nullopt;
}

// A GET parked until the record's version passes `version`, or (without it) until terminal.
class GetWaiter final : public Waiter {
 public:
  GetWaiter(Context& ctx, GetSpec spec, int fd, http::Responder res)
      : ctx_(ctx),
        ws_(std::move(spec.workspace)),
        rt_(std::move(spec.runtime_id)),
        id_(std::move(spec.id)),
        version_(spec.version),
        kind_(spec.kind),
        owner_only_user_(std::move(spec.owner_only_user)),
        render_(spec.render != nullptr ? spec.render : &renderRecord),
        channels_{eventsChannel(ws_, rt_)},
        fd_(fd),
        res_(std::move(res)) {
    if (fd_ >= 0)
      watch_ = std::make_unique<http::PeerWatch>(ctx_.base, fd_, [this] { clientLeft(); });
  }

  std::string_view type() const override { return "get"; }
  const std::vector<std::string>& channels() const override { return channels_; }
  const std::string& requestId() const override { return id_; }
  bool wakesOn(const WakeEvent& e) const override {
    return version_ ? e.version > *version_ : e.terminal();
  }
  bool peekGone() const override { return fd_ >= 0 && http::PeerWatch::peerGone(fd_); }

  bool mayParkUnread() const override { return owner_only_user_.empty() && kind_.empty(); }

  bool answerFrom(const WakeEvent& e) override {
    // Owner-only reads check the runtime's owner, which only a read returns.
    if (!e.record || !owner_only_user_.empty()) return false;
    const Record& rec = *e.record;
    if (rec.runtime_id != rt_ || (!kind_.empty() && rec.kind != kind_)) return false;
    if (!(version_ ? rec.version > *version_ : rec.terminal())) return false;
    reply([&](http::Responder& res) { res.send(200, render_(rec)); });
    return true;
  }

  void check(bool final, Done done) override {
    ctx_.store.get(
        ws_, rt_, id_,
        [this, final, done = std::move(done)](ApiResult<RecordRead> r) {
          if (r && !owner_only_user_.empty() && r->runtime_owner != owner_only_user_) {
            reply([](http::Responder& res) {
              sendError(res, Errc::kForbidden, "insufficient permissions");
            });
            return done(Outcome::kAnswered, -1);
          }
          if (!r) {
            if (r.error().code == Errc::kStoreUnavailable) return done(Outcome::kUnavailable, -1);
            reply([&](http::Responder& res) { sendError(res, r.error()); });
            return done(Outcome::kAnswered, -1);
          }
          const Record& rec = r->record;
          if (!kind_.empty() && rec.kind != kind_) {
            reply(
                [](http::Responder& res) { sendError(res, Errc::kNotFound, "request not found"); });
            return done(Outcome::kAnswered, -1);
          }
          bool satisfied = version_ ? rec.version > *version_ : rec.terminal();
          if (!satisfied && !final) return done(Outcome::kPark, r->next_deadline_ms);
          reply([&](http::Responder& res) { res.send(200, render_(rec)); });
          done(Outcome::kAnswered, -1);
        },
        !owner_only_user_.empty());
  }

  void abandon(std::string_view code) override {
    reply([&](http::Responder& res) {
      if (code == "store_unavailable") {
        sendError(res, Errc::kStoreUnavailable, "the store is unavailable; retry");
      } else {
        sendError(res, Errc::kInternal, "the request could not be read");
      }
    });
  }

  void onClientGone() override {
    // Nobody reads this; evhttp frees the request once it is answered.
    reply([](http::Responder& res) { sendError(res, Errc::kInternal, "client closed"); });
  }

 private:
  template <class F>
  void reply(F&& f) {
    watch_.reset();  // never watch a socket evhttp is about to write to (or free)
    if (res_.pending()) f(res_);
  }

  Context& ctx_;
  std::string ws_, rt_, id_;
  std::optional<int64_t> version_;
  std::string kind_;
  std::string owner_only_user_;
  std::string (*render_)(const Record&);
  std::vector<std::string> channels_;
  int fd_;
  http::Responder res_;
  std::unique_ptr<http::PeerWatch> watch_;
};

void listRuntimes(Context& ctx, http::Request&& req, http::Responder&& res) {
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kUser,
             [&ctx](http::Request&&, http::Responder&& res, Caller&& caller) {
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.listRuntimes(caller.workspace,
                                      [r](ApiResult<std::vector<RuntimeInfo>> rts) {
                                        if (!rts) return sendError(*r, rts.error());
                                        r->send(200, renderRuntimes(*rts));
                                      });
             });
}

void postRequest(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res) {
  std::string rt(params.get("rt"));
  withCaller(
      ctx, std::move(req), std::move(res), Caller::Kind::kUser,
      [&ctx, rt](http::Request&& req, http::Responder&& res, Caller&& caller) {
        if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
        JsonArena doc_arena;
        rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
        if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
          return sendError(res, ok.error());
        auto kind_name = stringField(doc, "kind", true);
        if (!kind_name) return sendError(res, kind_name.error());
        const KindSpec* kind = ctx.kinds.find(**kind_name);
        if (kind == nullptr) {
          return sendError(res, Errc::kUnknownKind, "unknown kind \"" + **kind_name + "\"");
        }
        std::string payload = "{}";
        if (auto p = doc.FindMember("payload"); p != doc.MemberEnd() && !p->value.IsNull()) {
          if (!p->value.IsObject()) {
            return sendError(res, Errc::kInvalidPayload, "payload must be a JSON object");
          }
          if (auto err = validatePayload(kind->name, p->value)) return sendError(res, *err);
          payload = toCanonicalJson(p->value);
        } else if (auto err =
                       validatePayload(kind->name, rapidjson::Value(rapidjson::kObjectType))) {
          return sendError(res, *err);
        }
        std::string idem;
        if (auto key = req.header("Idempotency-Key")) {
          if (!isValidIdempotencyKey(*key)) {
            return sendError(res, Errc::kInvalidIdempotencyKey,
                             "Idempotency-Key must match [A-Za-z0-9_.:-]{1,128}");
          }
          idem = std::string(*key);
        }
        auto r = std::make_shared<http::Responder>(std::move(res));
        createRequest(ctx,
                      {caller.workspace, rt, kind, std::move(payload), caller.user_id, idem, "", 0},
                      [r](ApiResult<CreateOutcome> out) {
                        if (!out) return sendError(*r, out.error());
                        r->send(out->created ? 201 : 200, renderRecord(out->read.record));
                      });
      });
}

void getRequest(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res) {
  std::string rt(params.get("rt")), id(params.get("id"));
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kUser,
             [&ctx, rt, id](http::Request&& req, http::Responder&& res, Caller&& caller) {
               if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
               if (auto ok = checkId(id, "request id"); !ok) return sendError(res, ok.error());
               auto wait = waitParam(req);
               if (!wait) return sendError(res, wait.error());
               auto version = versionParam(req);
               if (!version) return sendError(res, version.error());
               parkGet(ctx, {caller.workspace, rt, id, *version, "", nullptr, ""}, *wait * 1000,
                       req.fd, std::move(res));
             });
}

void cancelRequest(Context& ctx, http::Request&& req, http::Params&& params,
                   http::Responder&& res) {
  std::string rt(params.get("rt")), id(params.get("id"));
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kUser,
             [&ctx, rt, id](http::Request&&, http::Responder&& res, Caller&& caller) {
               if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
               if (auto ok = checkId(id, "request id"); !ok) return sendError(res, ok.error());
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.cancel(caller.workspace, rt, id, [r](ApiResult<Record> rec) {
                 if (!rec) return sendError(*r, rec.error());
                 r->send(200, renderRecord(*rec));
               });
             });
}

}  // namespace

void createRequest(Context& ctx, CreateArgs args,
                   std::function<void(ApiResult<CreateOutcome>)> cb) {
  // Not for single-attempt kinds (update): should the create's reply be lost after its script
  // ran, the handed request would only reach a daemon through a redelivery, and it has none.
  std::optional<Waiters::HandoffTicket> ticket;
  if (args.kind->max_attempts > 1) {
    ticket =
        ctx.waiters.beginHandoff(eventsChannel(args.workspace, args.runtime_id), args.kind->name);
  }
  if (ticket) {
    args.handoff_consumer = ticket->spec.consumer;
    args.handoff_max = ticket->spec.max;
  }
  ctx.store.create(args, [&ctx, cb = std::move(cb),
                          waiter = ticket ? ticket->waiter : 0](ApiResult<CreateOutcome> out) {
    if (waiter != 0) {
      ctx.waiters.endHandoff(waiter, out ? std::move(out->handed) : std::vector<ClaimedRequest>{});
    }
    cb(std::move(out));
  });
}

void parkGet(Context& ctx, GetSpec spec, int64_t wait_ms, int fd, http::Responder&& res) {
  ctx.waiters.add(
      std::make_unique<GetWaiter>(ctx, std::move(spec), wait_ms > 0 ? fd : -1, std::move(res)),
      wait_ms);
}

void addFrontendRoutes(http::Router& router, Context& ctx) {
  router.add(Method::kGet, "/api/runtimes", "list_runtimes",
             [&ctx](http::Request&& req, http::Params&&, http::Responder&& res) {
               listRuntimes(ctx, std::move(req), std::move(res));
             });
  router.add(Method::kPost, "/api/runtimes/{rt}/requests", "create_request",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               postRequest(ctx, std::move(req), std::move(p), std::move(res));
             });
  router.add(Method::kGet, "/api/runtimes/{rt}/requests/{id}", "get_request",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               getRequest(ctx, std::move(req), std::move(p), std::move(res));
             });
  router.add(Method::kDelete, "/api/runtimes/{rt}/requests/{id}", "cancel_request",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               cancelRequest(ctx, std::move(req), std::move(p), std::move(res));
             });
}

}  // namespace courier::api
