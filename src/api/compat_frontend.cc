// The polling protocol's frontend routes (COMPAT.md): one path per kind, POST and GET answer
// 200 with a flattened record — the payload's and the result's fields at the top level, no
// kind/version/attempt — and `cancelled` shows as `failed` with error "cancelled".
#include <rapidjson/document.h>

#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/util/ids.h"
#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier::api {
namespace {

using http::Method;
using rapidjson::Document;
using rapidjson::Value;

void setString(Document& d, const char* name, const std::string& v) {
  d.AddMember(Value(name, d.GetAllocator()), Value(v.c_str(), v.size(), d.GetAllocator()),
              d.GetAllocator());
}

// Copies `names` (all members when empty) of the JSON object `json` into `out`.
void copyFields(Document& out, const std::string& json, std::initializer_list<const char*> names) {
  if (json.empty()) return;
  Document src;
  if (!parseJson(json, src) || !src.IsObject()) return;
  auto& a = out.GetAllocator();
  for (auto& m : src.GetObject()) {
    bool wanted = names.size() == 0;
    for (const char* n : names) wanted = wanted || m.name == n;
    // The record's own fields win over same-named fields of the payload or result.
    bool reserved = false;
    for (const char* r : {"id", "runtime_id", "status", "error", "created_at", "updated_at"}) {
      reserved = reserved || m.name == r;
    }
    if (!wanted || reserved || out.HasMember(m.name)) continue;
    out.AddMember(Value(m.name, a), Value(m.value, a), a);
  }
}

void setDefault(Document& d, const char* name, bool v) {
  if (!d.HasMember(name)) d.AddMember(Value(name, d.GetAllocator()), Value(v), d.GetAllocator());
}

// The flattened record of COMPAT.md "Status values and records".
std::string renderCompat(const Record& r) {
  Document d(rapidjson::kObjectType);
  setString(d, "id", r.id);
  setString(d, "runtime_id", r.runtime_id);
  bool cancelled = r.status == "cancelled";
  setString(d, "status", cancelled ? "failed" : r.status);
  if (r.kind == "local_skill_import") {
    copyFields(
        d, r.payload,
        {"skill_key", "name", "description", "action", "target_skill_id", "supports_conflict"});
    copyFields(d, r.result, {"skill", "conflict"});
  } else if (r.kind == "update") {
    copyFields(d, r.payload, {"target_version"});
    copyFields(d, r.result, {"output"});
  } else {
    copyFields(d, r.result, {});
    setDefault(d, "supported", true);  // created with supported: true
    if (r.kind == "local_skill_list") setDefault(d, "mcp_supported", false);
  }
  if (cancelled) {
    setString(d, "error", "cancelled");
  } else if (!r.error.empty()) {
    setString(d, "error", r.error);
  }
  setString(d, "created_at", formatRfc3339Ms(r.created_ms));
  setString(d, "updated_at", formatRfc3339Ms(r.updated_ms));
  return toJson(d);
}

// COMPAT.md's messages for the errors old clients show.
ApiError compatError(ApiError e) {
  switch (e.code) {
    case Errc::kRuntimeOffline:
      return apiError(e.code, "runtime is offline");
    case Errc::kForbidden:
      return apiError(e.code, "insufficient permissions");
    case Errc::kInvalidBody:
      return apiError(e.code, "invalid request body");
    default:
      return e;
  }
}

// The import body's rules, with the old messages.
std::optional<ApiError> validateImport(const Document& p) {
  auto str = [&](const char* name) -> std::optional<std::string> {
    auto it = p.FindMember(name);
    if (it == p.MemberEnd() || it->value.IsNull()) return std::string();
    if (!it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto key = str("skill_key");
  if (!key) return apiError(Errc::kInvalidBody, "invalid request body");
  if (key->empty()) return apiError(Errc::kInvalidPayload, "skill_key is required");
  for (const char* name : {"name", "description"}) {
    if (!str(name)) return apiError(Errc::kInvalidBody, "invalid request body");
  }
  auto action = str("action");
  if (!action || (!action->empty() && *action != "overwrite")) {
    return apiError(Errc::kInvalidPayload, "invalid action");
  }
  auto target = str("target_skill_id");
  if (!target || (*action == "overwrite" && !isValidId(*target)) ||
      (!target->empty() && !isValidId(*target))) {
    return apiError(Errc::kInvalidPayload, "invalid target_skill_id");
  }
  auto sc = p.FindMember("supports_conflict");
  if (sc != p.MemberEnd() && !sc->value.IsBool() && !sc->value.IsNull()) {
    return apiError(Errc::kInvalidBody, "invalid request body");
  }
  return std::nullopt;
}

struct CompatKind {
  const char* path;  // under /api/runtimes/{rt}/
  const char* kind;
  const char* create_route;
  const char* get_route;
};

}  // namespace

void addCompatFrontendRoutes(http::Router& router, Context& ctx) {
  static const CompatKind kKinds[] = {
      {"local-skills", "local_skill_list", "compat_create_list", "compat_get_list"},
      {"local-skills/import", "local_skill_import", "compat_create_import", "compat_get_import"},
      {"models", "model_list", "compat_create_models", "compat_get_models"},
      {"update", "update", "compat_create_update", "compat_get_update"},
  };
  for (const CompatKind& k : kKinds) {
    router.add(Method::kPost, std::string("/api/runtimes/{rt}/") + k.path, k.create_route,
               [&ctx, &k](http::Request&& req, http::Params&& p, http::Responder&& res) {
                 std::string rt(p.get("rt"));
                 withCaller(
                     ctx, std::move(req), std::move(res), Caller::Kind::kUser,
                     [&ctx, &k, rt](http::Request&& req, http::Responder&& res, Caller&& caller) {
                       if (auto ok = checkId(rt, "runtime id"); !ok)
                         return sendError(res, ok.error());
                       Document doc;
                       if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok) {
                         return sendError(res, compatError(ok.error()));
                       }
                       std::string payload = "{}";
                       if (std::string_view(k.kind) == "local_skill_import") {
                         if (auto err = validateImport(doc)) return sendError(res, *err);
                         payload = toCanonicalJson(doc);
                       } else if (std::string_view(k.kind) == "update") {
                         auto v = stringField(doc, "target_version", true);
                         if (!v || (*v)->empty()) {
                           return sendError(res, Errc::kInvalidPayload,
                                            "target_version is required");
                         }
                         payload = toCanonicalJson(doc);
                       }
                       auto r = std::make_shared<http::Responder>(std::move(res));
                       createRequest(ctx,
                                     {caller.workspace, rt, ctx.kinds.find(k.kind),
                                      std::move(payload), caller.user_id, "", "", 0},
                                     [r](ApiResult<CreateOutcome> out) {
                                       if (!out) return sendError(*r, compatError(out.error()));
                                       r->send(200, renderCompat(out->read.record));
                                     });
                     });
               });
    router.add(
        Method::kGet, std::string("/api/runtimes/{rt}/") + k.path + "/{id}", k.get_route,
        [&ctx, &k](http::Request&& req, http::Params&& p, http::Responder&& res) {
          std::string rt(p.get("rt")), id(p.get("id"));
          withCaller(
              ctx, std::move(req), std::move(res), Caller::Kind::kUser,
              [&ctx, &k, rt, id](http::Request&& req, http::Responder&& res, Caller&& caller) {
                if (auto ok = checkId(rt, "runtime id"); !ok) return sendError(res, ok.error());
                if (auto ok = checkId(id, "request id"); !ok) return sendError(res, ok.error());
                auto wait = waitParam(req);
                if (!wait) return sendError(res, wait.error());
                // Imports and updates are the runtime owner's (COMPAT.md): others get 403.
                std::string owner_only = ctx.kinds.find(k.kind)->creator == Creator::kRuntimeOwner
                                             ? caller.user_id
                                             : std::string();
                parkGet(ctx,
                        {caller.workspace, rt, id, std::nullopt, k.kind, &renderCompat, owner_only},
                        *wait * 1000, req.fd, std::move(res));
              });
        });
  }
}

}  // namespace courier::api
