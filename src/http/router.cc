#include "courier/http/router.h"

#include <array>
#include <string>

namespace courier::http {
namespace {

// "/a/b" → {"a", "b"}; "/" → {""}; "/a/" → {"a", ""}. The views point into `path`.
std::vector<std::string_view> splitPath(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool isPlaceholder(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::string_view placeholderName(std::string_view segment) {
  return segment.substr(1, segment.size() - 2);
}

// A placeholder takes any non-empty segment: "/runtimes//requests" names no runtime.
bool matches(const std::vector<std::string>& pattern,
             const std::vector<std::string_view>& segments) {
  if (pattern.size() != segments.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (isPlaceholder(pattern[i]) ? segments[i].empty() : pattern[i] != segments[i]) return false;
  }
  return true;
}

// At the first position where one pattern has a literal and the other a placeholder, the literal
// is more specific; patterns that never differ that way are equally specific.
bool moreSpecific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool a_literal = !isPlaceholder(a[i]);
    if (a_literal != !isPlaceholder(b[i])) return a_literal;
  }
  return false;
}

constexpr std::array kAllMethods = {Method::kGet,     Method::kHead,  Method::kPost,
                                    Method::kPut,     Method::kPatch, Method::kDelete,
                                    Method::kOptions, Method::kOther};
// dispatch() indexes a per-method array by the enum's value.
static_assert(static_cast<size_t>(Method::kOther) + 1 == kAllMethods.size());

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if it is not well-formed
// (overlong, surrogate, past U+10FFFF or truncated).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  size_t len;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// Error messages quote client input (a path, a header) that may be any bytes: invalid UTF-8 is
// replaced by U+FFFD so that the body stays valid JSON.
void appendEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t len = utf8SequenceLength(s, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

}  // namespace

std::string_view Params::get(std::string_view name) const {
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return {};
}

void Router::add(Method method, std::string pattern, std::string route, Handler handler) {
  std::vector<std::string> segments;
  for (std::string_view segment : splitPath(pattern)) segments.emplace_back(segment);
  uint32_t tag = kFirstRouteTag + static_cast<uint32_t>(entries_.size());
  entries_.push_back({tag, method, std::move(segments), std::move(route), std::move(handler)});
}

// Among the routes whose pattern matches the path and whose method is the request's, the most
// specific wins (ties: the first added). So "POST …/local-skills/import" reaches the literal
// route while "GET …/local-skills/import" still reaches "GET …/local-skills/{id}" if only the
// latter has a GET. The path matching some route but no route of that method is a 405.
void Router::dispatch(Request&& req, Responder&& res, std::string* route_name) const {
  const std::vector<std::string_view> segments = splitPath(req.path);
  const Entry* best = nullptr;
  bool path_known = false;
  std::array<bool, kAllMethods.size()> allowed{};
  for (const Entry& entry : entries_) {
    if (!matches(entry.segments, segments)) continue;
    path_known = true;
    allowed[static_cast<size_t>(entry.method)] = true;
    if (entry.method != req.method) continue;
    if (best == nullptr || moreSpecific(entry.segments, best->segments)) best = &entry;
  }

  if (best != nullptr) {
    Params params;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (isPlaceholder(best->segments[i])) {
        params.values.emplace_back(placeholderName(best->segments[i]), segments[i]);
      }
    }
    if (route_name != nullptr) *route_name = best->route;
    res.setTag(best->tag);
    best->handler(std::move(req), std::move(params), std::move(res));
    return;
  }

  if (!path_known) {
    if (route_name != nullptr) *route_name = "not_found";
    res.setTag(kTagNotFound);
    res.send(404, errorBody("not_found", "no route for " + req.path));
    return;
  }

  std::string allow;
  for (Method m : kAllMethods) {
    if (!allowed[static_cast<size_t>(m)]) continue;
    if (!allow.empty()) allow += ", ";
    allow += methodName(m);
  }
  if (route_name != nullptr) *route_name = "method_not_allowed";
  res.setTag(kTagMethodNotAllowed);
  std::string message =
      "method " + std::string(methodName(req.method)) + " not allowed for " + req.path;
  res.send(405, errorBody("method_not_allowed", message), {{"Allow", allow}});
}

std::vector<std::string> Router::routeNames() const {
  std::vector<std::string> names = {"unrouted", "not_found", "method_not_allowed"};
  for (const Entry& e : entries_) names.push_back(e.route);
  return names;
}

std::string errorBody(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":";
  appendEscaped(out, message);
  out += ",\"code\":";
  appendEscaped(out, code);
  out += '}';
  return out;
}

}  // namespace courier::http
