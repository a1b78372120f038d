// The polling protocol's daemon side (COMPAT.md): the heartbeat that claims, and the per-kind
// report routes with the old bodies. Old daemons never extend a lease, carry no attempt and
// no consumer id, so a heartbeat claim gets its running timeout as its lease at once and
// reports are fenced by "the current attempt".
#include <spdlog/spdlog.h>

#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/util/json.h"

namespace courier::api {
namespace {

using http::Method;

// The payload's string field `name`, or "".
std::string payloadString(const std::string& payload, const char* name) {
  JsonArena doc_arena;
  rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
  if (!parseJson(payload, doc) || !doc.IsObject()) return "";
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsString()) return "";
  return it->value.GetString();
}

std::string idObject(const ClaimedRequest& c, const char* extra_name = nullptr,
                     const std::string& extra = "") {
  std::string out = "{\"id\":";
  appendJsonString(out, c.id);
  if (extra_name != nullptr) {
    out += ",\"";
    out += extra_name;
    out += "\":";
    appendJsonString(out, extra);
  }
  out += '}';
  return out;
}

// {status:"ok", pending_update?, pending_model_list?, pending_local_skills?,
//  pending_local_skill_import?, pending_local_skill_imports?}
std::string renderHeartbeat(const std::vector<ClaimedRequest>& reqs, bool batch) {
  std::string out = "{\"status\":\"ok\"";
  std::vector<std::string> imports;
  for (const auto& c : reqs) {
    if (c.kind == "update") {
      out += ",\"pending_update\":" +
             idObject(c, "target_version", payloadString(c.payload, "target_version"));
    } else if (c.kind == "model_list") {
      out += ",\"pending_model_list\":" + idObject(c);
    } else if (c.kind == "local_skill_list") {
      out += ",\"pending_local_skills\":" + idObject(c);
    } else if (c.kind == "local_skill_import") {
      imports.push_back(idObject(c, "skill_key", payloadString(c.payload, "skill_key")));
    }
  }
  if (!imports.empty()) {
    // The singular field repeats the first batch item for daemons that only know it.
    out += ",\"pending_local_skill_import\":" + imports.front();
    if (batch) {
      out += ",\"pending_local_skill_imports\":[";
      for (size_t i = 0; i < imports.size(); ++i) out += (i ? "," : "") + imports[i];
      out += ']';
    }
  }
  out += '}';
  return out;
}

void heartbeat(Context& ctx, http::Request&& req, http::Responder&& res) {
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kDaemon,
             [&ctx](http::Request&& req, http::Responder&& res, Caller&& caller) {
               JsonArena doc_arena;
               rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
               if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
                 return sendError(res, ok.error());
               auto rt = stringField(doc, "runtime_id", true);
               if (!rt) return sendError(res, rt.error());
               if (auto ok = checkId(**rt, "runtime_id"); !ok) return sendError(res, ok.error());
               auto batch = boolField(doc, "supports_batch_import");
               if (!batch) return sendError(res, batch.error());
               bool batched = batch->value_or(false);
               ClaimArgs args;
               args.workspace = caller.workspace;
               args.consumer = "heartbeat-" + **rt;
               args.runtime_ids = {**rt};
               args.heartbeat = true;
               args.kind_caps = {{"update", 1},
                                 {"model_list", 1},
                                 {"local_skill_list", 1},
                                 {"local_skill_import", batched ? 10 : 1}};
               args.max = batched ? 13 : 4;
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.claim(args, [r, batched](ApiResult<ClaimOutcome> out) {
                 if (!out) return sendError(*r, out.error());
                 r->send(200, renderHeartbeat(out->requests, batched));
               });
             });
}

// Copies the listed fields of the old report body into the result object.
std::string pickResult(const rapidjson::Document& doc,
                       std::initializer_list<std::pair<const char*, const char*>> fields) {
  rapidjson::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  for (auto [name, fallback] : fields) {
    auto it = doc.FindMember(name);
    rapidjson::Value key(name, a);
    if (it != doc.MemberEnd() && !it->value.IsNull()) {
      out.AddMember(key, rapidjson::Value(it->value, a), a);
    } else if (fallback != nullptr) {
      rapidjson::Document fb;
      fb.Parse(fallback);
      out.AddMember(key, rapidjson::Value(fb, a), a);
    }
  }
  filterMcpServers(out);
  return toJson(out);
}

// One old report route: `kind` is the kind the path reports for; `result_of` builds the stored
// result from the old body.
void compatReport(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res,
                  std::string kind, std::string (*result_of)(const rapidjson::Document&)) {
  std::string rt(params.get("rt")), id(params.get("id"));
  withCaller(
      ctx, std::move(req), std::move(res), Caller::Kind::kDaemon,
      [&ctx, rt, id, kind, result_of](http::Request&& req, http::Responder&& res, Caller&& caller) {
        if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
        if (auto ok = checkId(id, "request id"); !ok) return sendError(res, ok.error());
        JsonArena doc_arena;
        rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
        if (auto ok = parseBody(req, kDaemonBodyLimit, doc); !ok) return sendError(res, ok.error());
        auto status = stringField(doc, "status", true);
        if (!status) return sendError(res, status.error());
        auto error = stringField(doc, "error", false);
        if (!error) return sendError(res, error.error());
        bool completed = **status == "completed";
        ReportArgs args{caller.workspace,
                        rt,
                        id,
                        std::nullopt,
                        completed ? "completed" : "failed",
                        result_of(doc),
                        error->value_or(""),
                        kind};
        if (!completed && args.error.empty()) args.error = "daemon reported a failure";
        auto r = std::make_shared<http::Responder>(std::move(res));
        ctx.store.report(args, [r](ApiResult<ReportOutcome> out) {
          // The old protocol acknowledges a report for a request that ended, cancelled or not.
          if (!out && out.error().code != Errc::kCancelled) return sendError(*r, out.error());
          r->send(200, "{\"status\":\"ok\"}");
        });
      });
}

std::string listResult(const rapidjson::Document& d) {
  return pickResult(
      d,
      {{"skills", "[]"}, {"supported", "true"}, {"mcp_servers", "[]"}, {"mcp_supported", "false"}});
}
std::string modelsResult(const rapidjson::Document& d) {
  return pickResult(d, {{"models", "[]"}, {"supported", "true"}});
}
std::string importResult(const rapidjson::Document& d) {
  return pickResult(d, {{"skill", nullptr}});
}
std::string updateResult(const rapidjson::Document& d) {
  return pickResult(d, {{"output", "\"\""}});
}

}  // namespace

void addCompatRoutes(http::Router& router, Context& ctx) {
  router.add(Method::kPost, "/api/daemon/heartbeat", "heartbeat",
             [&ctx](http::Request&& req, http::Params&&, http::Responder&& res) {
               heartbeat(ctx, std::move(req), std::move(res));
             });
  struct Route {
    const char* path;
    const char* name;
    const char* kind;
    std::string (*result_of)(const rapidjson::Document&);
  };
  for (const Route& route : {
           Route{"/api/daemon/runtimes/{rt}/local-skills/{id}/result", "compat_list_report",
                 "local_skill_list", &listResult},
           Route{"/api/daemon/runtimes/{rt}/local-skills/import/{id}/result",
                 "compat_import_report", "local_skill_import", &importResult},
           Route{"/api/daemon/runtimes/{rt}/models/{id}/result", "compat_models_report",
                 "model_list", &modelsResult},
           Route{"/api/daemon/runtimes/{rt}/update/{id}/result", "compat_update_report", "update",
                 &updateResult},
       }) {
    router.add(Method::kPost, route.path, route.name,
               [&ctx, route](http::Request&& req, http::Params&& p, http::Responder&& res) {
                 compatReport(ctx, std::move(req), std::move(p), std::move(res), route.kind,
                              route.result_of);
               });
  }
}

}  // namespace courier::api
