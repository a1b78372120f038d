// Admin routes (the admin token): workspaces and tokens.
#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier::api {
namespace {

using http::Method;

void createWorkspace(Context& ctx, http::Request&& req, http::Responder&& res) {
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kAdmin,
             [&ctx](http::Request&& req, http::Responder&& res, Caller&&) {
               rapidjson::Document doc;
               if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
                 return sendError(res, ok.error());
               auto name = stringField(doc, "name", true);
               if (!name) return sendError(res, name.error());
               if ((*name)->empty() || (*name)->size() > 256) {
                 return sendError(res, Errc::kInvalidBody,
                                  "field \"name\" must be 1-256 characters");
               }
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.createWorkspace(**name, [r](ApiResult<WorkspaceInfo> ws) {
                 if (!ws) return sendError(*r, ws.error());
                 std::string body = "{\"id\":";
                 appendJsonString(body, ws->id);
                 body += ",\"name\":";
                 appendJsonString(body, ws->name);
                 body += ",\"created_at\":";
                 appendJsonString(body, formatRfc3339Ms(ws->created_ms));
                 body += '}';
                 r->send(201, body);
               });
             });
}

void createToken(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res) {
  std::string ws(params.get("ws"));
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kAdmin,
             [&ctx, ws](http::Request&& req, http::Responder&& res, Caller&&) {
               if (auto ok = checkId(ws, "workspace id"); !ok) return sendError(res, ok.error());
               rapidjson::Document doc;
               if (auto ok = parseBody(req, kFrontendBodyLimit, doc); !ok)
                 return sendError(res, ok.error());
               auto kind = stringField(doc, "kind", true);
               if (!kind) return sendError(res, kind.error());
               TokenInfo::Kind k;
               std::string user_id;
               if (**kind == "user") {
                 k = TokenInfo::Kind::kUser;
                 auto user = stringField(doc, "user_id", true);
                 if (!user) return sendError(res, user.error());
                 if (auto ok = checkId(**user, "user_id"); !ok) return sendError(res, ok.error());
                 user_id = **user;
               } else if (**kind == "daemon") {
                 k = TokenInfo::Kind::kDaemon;
               } else {
                 return sendError(res, Errc::kInvalidBody,
                                  "field \"kind\" must be \"user\" or \"daemon\"");
               }
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.createToken(ws, k, user_id, [r](ApiResult<CreatedToken> t) {
                 if (!t) return sendError(*r, t.error());
                 std::string body = "{\"id\":";
                 appendJsonString(body, t->id);
                 body += ",\"token\":";
                 appendJsonString(body, t->token);
                 body += ",\"kind\":";
                 body += t->info.kind == TokenInfo::Kind::kUser ? "\"user\"" : "\"daemon\"";
                 body += ",\"workspace_id\":";
                 appendJsonString(body, t->info.workspace);
                 if (t->info.kind == TokenInfo::Kind::kUser) {
                   body += ",\"user_id\":";
                   appendJsonString(body, t->info.user_id);
                 }
                 body += '}';
                 r->send(201, body);
               });
             });
}

void revokeToken(Context& ctx, http::Request&& req, http::Params&& params, http::Responder&& res) {
  std::string id(params.get("id"));
  withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kAdmin,
             [&ctx, id](http::Request&&, http::Responder&& res, Caller&&) {
               if (auto ok = checkId(id, "token id"); !ok) return sendError(res, ok.error());
               auto r = std::make_shared<http::Responder>(std::move(res));
               ctx.store.revokeToken(id, [r](ApiResult<bool> found) {
                 if (!found) return sendError(*r, found.error());
                 if (!*found) return sendError(*r, Errc::kNotFound, "token not found");
                 r->send(204, "");
               });
             });
}

}  // namespace

void addAdminRoutes(http::Router& router, Context& ctx) {
  router.add(Method::kPost, "/api/admin/workspaces", "create_workspace",
             [&ctx](http::Request&& req, http::Params&&, http::Responder&& res) {
               createWorkspace(ctx, std::move(req), std::move(res));
             });
  router.add(Method::kPost, "/api/admin/workspaces/{ws}/tokens", "create_token",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               createToken(ctx, std::move(req), std::move(p), std::move(res));
             });
  router.add(Method::kDelete, "/api/admin/tokens/{id}", "revoke_token",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               revokeToken(ctx, std::move(req), std::move(p), std::move(res));
             });
}

}  // namespace courier::api
