#include "courier/api/render.h"

#include "courier/util/json.h"

namespace courier::api {
namespace {

// The fields a runtime shows everywhere.
void runtimeFields(JsonObjectWriter& w, const RuntimeInfo& rt) {
  w.str("name", rt.name);
  w.str("provider", rt.provider);
  w.str("owner_user_id", rt.owner_user_id);
  w.str("status", rt.online ? "online" : "offline");
}

}  // namespace

void appendRecord(std::string& out, const Record& r) {
  JsonObjectWriter w(out);
  w.str("id", r.id);
  w.str("runtime_id", r.runtime_id);
  w.str("kind", r.kind);
  w.str("status", r.status);
  w.integer("version", r.version);
  w.integer("attempt", r.attempt);
  w.raw("payload", r.payload, "{}");
  w.raw("result", r.result, "null");
  w.strOrNull("error", r.error);
  w.time("created_at", r.created_ms);
  w.time("updated_at", r.updated_ms);
}

std::string renderRecord(const Record& r) {
  std::string out;
  out.reserve(256 + r.payload.size() + r.result.size());
  appendRecord(out, r);
  return out;
}

std::string renderClaimed(const std::vector<ClaimedRequest>& reqs) {
  std::string out = "{\"requests\":[";
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& c = reqs[i];
    if (i > 0) out += ',';
    JsonObjectWriter w(out);
    w.str("id", c.id);
    w.str("runtime_id", c.runtime_id);
    w.str("kind", c.kind);
    w.raw("payload", c.payload, "{}");
    w.integer("attempt", c.attempt);
    w.time("lease_expires_at", c.lease_expires_ms);
  }
  out += "]}";
  return out;
}

std::string renderRuntime(const RuntimeInfo& rt, const std::string& workspace) {
  std::string out;
  {
    JsonObjectWriter w(out);
    w.str("id", rt.id);
    w.str("workspace_id", workspace);
    runtimeFields(w, rt);
  }
  return out;
}

std::string renderRuntimes(const std::vector<RuntimeInfo>& rts) {
  std::string out = "{\"runtimes\":[";
  for (size_t i = 0; i < rts.size(); ++i) {
    const auto& rt = rts[i];
    if (i > 0) out += ',';
    JsonObjectWriter w(out);
    w.str("id", rt.id);
    runtimeFields(w, rt);
    if (rt.last_seen_ms > 0) {
      w.time("last_seen_at", rt.last_seen_ms);
    } else {
      w.strOrNull("last_seen_at", "");
    }
  }
  out += "]}";
  return out;
}

}  // namespace courier::api
