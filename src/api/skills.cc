// The workspace's skill registry (user tokens). Skills are written by completed imports
// (lua/report.lua); these routes only read.
#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier::api {
namespace {

using http::Method;

void appendSkill(std::string& out, const Skill& s, const std::string& ws, bool with_files) {
  out += "{\"id\":";
  appendJsonString(out, s.id);
  out += ",\"workspace_id\":";
  appendJsonString(out, ws);
  out += ",\"name\":";
  appendJsonString(out, s.name);
  out += ",\"description\":";
  appendJsonString(out, s.description);
  out += ",\"config\":";
  out += s.config.empty() ? "{}" : s.config;
  out += ",\"created_by\":";
  appendJsonString(out, s.created_by);
  out += ",\"created_at\":";
  appendJsonString(out, formatRfc3339Ms(s.created_ms));
  out += ",\"updated_at\":";
  appendJsonString(out, formatRfc3339Ms(s.updated_ms));
  if (with_files) {
    out += ",\"content\":";
    appendJsonString(out, s.content);
    out += ",\"files\":";
    out += s.files_json.empty() ? "[]" : s.files_json;
  } else {
    out += ",\"file_count\":";
    out += std::to_string(s.file_count);
  }
  out += '}';
}

}  // namespace

void addSkillRoutes(http::Router& router, Context& ctx) {
  router.add(Method::kGet, "/api/skills", "list_skills",
             [&ctx](http::Request&& req, http::Params&&, http::Responder&& res) {
               withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kUser,
                          [&ctx](http::Request&&, http::Responder&& res, Caller&& caller) {
                            auto r = std::make_shared<http::Responder>(std::move(res));
                            ctx.store.listSkills(
                                caller.workspace,
                                [r, ws = caller.workspace](ApiResult<std::vector<Skill>> skills) {
                                  if (!skills) return sendError(*r, skills.error());
                                  std::string out = "{\"skills\":[";
                                  for (size_t i = 0; i < skills->size(); ++i) {
                                    if (i > 0) out += ',';
                                    appendSkill(out, (*skills)[i], ws, false);
                                  }
                                  out += "]}";
                                  r->send(200, out);
                                });
                          });
             });
  router.add(Method::kGet, "/api/skills/{id}", "get_skill",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               std::string id(p.get("id"));
               withCaller(ctx, std::move(req), std::move(res), Caller::Kind::kUser,
                          [&ctx, id](http::Request&&, http::Responder&& res, Caller&& caller) {
                            if (auto ok = checkId(id, "skill id"); !ok)
                              return sendError(res, ok.error());
                            auto r = std::make_shared<http::Responder>(std::move(res));
                            ctx.store.getSkill(caller.workspace, id,
                                               [r, ws = caller.workspace](ApiResult<Skill> s) {
                                                 if (!s) return sendError(*r, s.error());
                                                 std::string out;
                                                 appendSkill(out, *s, ws, true);
                                                 r->send(200, out);
                                               });
                          });
             });
}

}  // namespace courier::api
