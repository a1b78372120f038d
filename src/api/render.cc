#include "courier/api/render.h"

#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier::api {
namespace {

void field(std::string& out, const char* name) {
  out += '"';
  out += name;
  out += "\":";
}

void rawOrNull(std::string& out, const std::string& json) { out += json.empty() ? "null" : json; }

void stringOrNull(std::string& out, const std::string& s) {
  if (s.empty()) {
    out += "null";
  } else {
    appendJsonString(out, s);
  }
}

}  // namespace

void appendRecord(std::string& out, const Record& r) {
  out += '{';
  field(out, "id");
  appendJsonString(out, r.id);
  out += ',';
  field(out, "runtime_id");
  appendJsonString(out, r.runtime_id);
  out += ',';
  field(out, "kind");
  appendJsonString(out, r.kind);
  out += ',';
  field(out, "status");
  appendJsonString(out, r.status);
  out += ',';
  field(out, "version");
  out += std::to_string(r.version);
  out += ',';
  field(out, "attempt");
  out += std::to_string(r.attempt);
  out += ',';
  field(out, "payload");
  out += r.payload.empty() ? "{}" : r.payload;
  out += ',';
  field(out, "result");
  rawOrNull(out, r.result);
  out += ',';
  field(out, "error");
  stringOrNull(out, r.error);
  out += ',';
  field(out, "created_at");
  appendJsonString(out, formatRfc3339Ms(r.created_ms));
  out += ',';
  field(out, "updated_at");
  appendJsonString(out, formatRfc3339Ms(r.updated_ms));
  out += '}';
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
    out += '{';
    field(out, "id");
    appendJsonString(out, c.id);
    out += ',';
    field(out, "runtime_id");
    appendJsonString(out, c.runtime_id);
    out += ',';
    field(out, "kind");
    appendJsonString(out, c.kind);
    out += ',';
    field(out, "payload");
    out += c.payload.empty() ? "{}" : c.payload;
    out += ',';
    field(out, "attempt");
    out += std::to_string(c.attempt);
    out += ',';
    field(out, "lease_expires_at");
    appendJsonString(out, formatRfc3339Ms(c.lease_expires_ms));
    out += '}';
  }
  out += "]}";
  return out;
}

std::string renderRuntime(const RuntimeInfo& rt, const std::string& workspace) {
  std::string out = "{";
  field(out, "id");
  appendJsonString(out, rt.id);
  out += ',';
  field(out, "workspace_id");
  appendJsonString(out, workspace);
  out += ',';
  field(out, "name");
  appendJsonString(out, rt.name);
  out += ',';
  field(out, "provider");
  appendJsonString(out, rt.provider);
  out += ',';
  field(out, "owner_user_id");
  appendJsonString(out, rt.owner_user_id);
  out += ',';
  field(out, "status");
  out += rt.online ? "\"online\"" : "\"offline\"";
  out += '}';
  return out;
}

std::string renderRuntimes(const std::vector<RuntimeInfo>& rts) {
  std::string out = "{\"runtimes\":[";
  for (size_t i = 0; i < rts.size(); ++i) {
    const auto& rt = rts[i];
    if (i > 0) out += ',';
    out += '{';
    field(out, "id");
    appendJsonString(out, rt.id);
    out += ',';
    field(out, "name");
    appendJsonString(out, rt.name);
    out += ',';
    field(out, "provider");
    appendJsonString(out, rt.provider);
    out += ',';
    field(out, "owner_user_id");
    appendJsonString(out, rt.owner_user_id);
    out += ',';
    field(out, "status");
    out += rt.online ? "\"online\"" : "\"offline\"";
    out += ',';
    field(out, "last_seen_at");
    if (rt.last_seen_ms > 0) {
      appendJsonString(out, formatRfc3339Ms(rt.last_seen_ms));
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace courier::api
