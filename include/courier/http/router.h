// Maps (method, path pattern) to handlers. Patterns are literal segments and `{name}`
// placeholders, e.g. "/api/runtimes/{rt}/requests/{id}". Unknown path → 404 not_found;
// known path, other method → 405 method_not_allowed with an Allow header. Both JSON.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "courier/http/request.h"
#include "courier/http/responder.h"

namespace courier::http {

struct Params {
  std::vector<std::pair<std::string, std::string>> values;
  // The value of placeholder `name` (empty if absent).
  std::string_view get(std::string_view name) const;
};

using Handler = std::function<void(Request&& req, Params&& params, Responder&& res)>;

class Router {
 public:
  // `route` names the pattern in metrics (e.g. "get_request"). First match wins; a literal
  // segment is tried before a placeholder at the same position regardless of order added.
  void add(Method method, std::string pattern, std::string route, Handler handler);

  // Finds the route and calls its handler, or answers 404/405 itself. `route_name` receives
  // the matched route's name (or "not_found" / "method_not_allowed").
  // Tags every Responder with its route (Responder::setTag), for the response metrics.
  void dispatch(Request&& req, Responder&& res, std::string* route_name = nullptr) const;

  // Route tags: kTagUnrouted (answered before routing), kTagNotFound, kTagMethodNotAllowed, then
  // kFirstRouteTag + the order routes were added in. routeNames()[tag] names each.
  static constexpr uint32_t kTagUnrouted = 0;
  static constexpr uint32_t kTagNotFound = 1;
  static constexpr uint32_t kTagMethodNotAllowed = 2;
  static constexpr uint32_t kFirstRouteTag = 3;
  std::vector<std::string> routeNames() const;

 private:
  struct Entry {
    uint32_t tag;
    Method method;
    std::vector<std::string> segments;
    std::string route;
    Handler handler;
  };
  std::vector<Entry> entries_;
};

// {"error": message, "code": code} — the one error body shape.
std::string errorBody(std::string_view code, std::string_view message);

}  // namespace courier::http
