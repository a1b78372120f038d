// An incoming HTTP request, copied out of evhttp so handlers can carry it across async steps.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace courier::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

std::string_view methodName(Method m);

struct Request {
  Method method = Method::kOther;
  std::string path;  // percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
  std::string peer;  // "ip:port" of the client, for logs
  int fd = -1;       // the connection's socket, for PeerWatch

  // First query parameter of that name.
  std::optional<std::string_view> queryParam(std::string_view name) const;
  // Header lookup, case-insensitive.
  std::optional<std::string_view> header(std::string_view name) const;
};

}  // namespace courier::http
