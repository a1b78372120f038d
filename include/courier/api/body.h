// Reading request bodies and query strings: every malformed input becomes a clear 400/413
// naming the field, never an exception or a crash.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "courier/core/errors.h"
#include "courier/http/request.h"

namespace courier::api {

inline constexpr size_t kFrontendBodyLimit = 1 << 20;  // 1 MiB
inline constexpr size_t kDaemonBodyLimit = 16 << 20;   // 16 MiB: an 8 MiB bundle, escaped

// Parses the body as a JSON object within `limit` bytes. An empty body is `{}`.
ApiResult<Unit> parseBody(const http::Request& req, size_t limit, rapidjson::Document& doc);

// Field readers: absent → nullopt (or the error when required); wrong type → invalid_body.
ApiResult<std::optional<std::string>> stringField(const rapidjson::Value& obj, const char* name,
                                                  bool required);
ApiResult<std::optional<int64_t>> intField(const rapidjson::Value& obj, const char* name,
                                           bool required, int64_t min, int64_t max);
ApiResult<std::optional<bool>> boolField(const rapidjson::Value& obj, const char* name);

// COMPAT.md: an MCP server entry is {name, transport?, source?, enabled} — never a command,
// URL or environment. Drops every other field (and non-object entries) of result.mcp_servers.
void filterMcpServers(rapidjson::Value& result);

// An id in a path or body: [A-Za-z0-9_-]{1,64}, else invalid_id naming `what`.
ApiResult<Unit> checkId(std::string_view id, std::string_view what);

// `wait` in seconds: 0–60 (default 0, larger values clamped); else invalid_query.
ApiResult<int64_t> waitParam(const http::Request& req);
// `version`: a non-negative integer, or absent.
ApiResult<std::optional<int64_t>> versionParam(const http::Request& req);

}  // namespace courier::api
