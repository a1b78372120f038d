#include "courier/api/body.h"

#include <charconv>

#include "courier/util/ids.h"
#include "courier/util/json.h"

namespace courier::api {
namespace {

ApiError invalid(std::string message) { return apiError(Errc::kInvalidBody, std::move(message)); }

std::optional<int64_t> parseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

ApiResult<Unit> parseBody(const http::Request& req, size_t limit, rapidjson::Document& doc) {
  if (req.body.size() > limit) {
    return fail(apiError(Errc::kBodyTooLarge,
                         "request body is larger than " + std::to_string(limit) + " bytes"));
  }
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc.SetObject();
    return Unit{};
  }
  if (auto r = parseJson(req.body, doc); !r) return fail(invalid(r.error()));
  if (!doc.IsObject()) return fail(invalid("request body must be a JSON object"));
  return Unit{};
}

ApiResult<std::optional<std::string>> stringField(const rapidjson::Value& obj, const char* name,
                                                  bool required) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (required) return fail(invalid(std::string("missing field \"") + name + "\""));
    return std::optional<std::string>();
  }
  if (!it->value.IsString()) {
    return fail(invalid(std::string("field \"") + name + "\" must be a string"));
  }
  return std::optional<std::string>(
      std::string(it->value.GetString(), it->value.GetStringLength()));
}

ApiResult<std::optional<int64_t>> intField(const rapidjson::Value& obj, const char* name,
                                           bool required, int64_t min, int64_t max) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (required) return fail(invalid(std::string("missing field \"") + name + "\""));
    return std::optional<int64_t>();
  }
  if (!it->value.IsInt64() || it->value.GetInt64() < min || it->value.GetInt64() > max) {
    return fail(invalid(std::string("field \"") + name + "\" must be an integer from " +
                        std::to_string(min) + " to " + std::to_string(max)));
  }
  return std::optional<int64_t>(it->value.GetInt64());
}

ApiResult<std::optional<bool>> boolField(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::optional<bool>();
  if (!it->value.IsBool()) {
    return fail(invalid(std::string("field \"") + name + "\" must be a boolean"));
  }
  return std::optional<bool>(it->value.GetBool());
}

void filterMcpServers(rapidjson::Value& result) {
  if (!result.IsObject()) return;
  auto servers = result.FindMember("mcp_servers");
  if (servers == result.MemberEnd() || !servers->value.IsArray()) return;
  auto& list = servers->value;
  for (auto it = list.Begin(); it != list.End();) {
    if (!it->IsObject()) {
      it = list.Erase(it);
      continue;
    }
    for (auto m = it->MemberBegin(); m != it->MemberEnd();) {
      std::string_view name(m->name.GetString(), m->name.GetStringLength());
      bool kept = name == "name" || name == "transport" || name == "source" || name == "enabled";
      m = kept ? m + 1 : it->EraseMember(m);
    }
    ++it;
  }
}

ApiResult<Unit> checkId(std::string_view id, std::string_view what) {
  if (isValidId(id)) return Unit{};
  return fail(apiError(Errc::kInvalidId, std::string(what) + " must match [A-Za-z0-9_-]{1,64}"));
}

ApiResult<int64_t> waitParam(const http::Request& req) {
  auto raw = req.queryParam("wait");
  if (!raw) return int64_t{0};
  auto v = parseInt(*raw);
  if (!v || *v < 0) {
    return fail(apiError(Errc::kInvalidQuery, "wait must be a whole number of seconds, 0-60"));
  }
  return std::min<int64_t>(*v, 60);
}

ApiResult<std::optional<int64_t>> versionParam(const http::Request& req) {
  auto raw = req.queryParam("version");
  if (!raw) return std::optional<int64_t>();
  auto v = parseInt(*raw);
  if (!v || *v < 0) {
    return fail(apiError(Errc::kInvalidQuery, "version must be a non-negative integer"));
  }
  return std::optional<int64_t>(*v);
}

}  // namespace courier::api
