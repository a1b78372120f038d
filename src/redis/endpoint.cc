#include "courier/redis/endpoint.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <string_view>

namespace courier::redis {

namespace {

constexpr std::string_view kRedisScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";
constexpr int kDefaultPort = 6379;

bool parseInt(std::string_view s, int min, int max, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
    return false;
  }
  *out = v;
  return true;
}

// Resolves `host` to a numeric address, preferring IPv4 (a Redis bound to 127.0.0.1 only is
// common, and "localhost" often resolves to ::1 first). Blocking: see parseEndpoint.
Result<std::string, std::string> resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) return fail("cannot resolve host '" + host + "': " + gai_strerror(rc));
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && pick == nullptr) pick = ai;
  }
  char buf[NI_MAXHOST] = {};
  rc = pick == nullptr ? EAI_FAMILY
                       : getnameinfo(pick->ai_addr, pick->ai_addrlen, buf, sizeof buf, nullptr, 0,
                                     NI_NUMERICHOST);
  freeaddrinfo(res);
  if (rc != 0) return fail("cannot resolve host '" + host + "': " + gai_strerror(rc));
  return std::string(buf);
}

Result<Endpoint, std::string> parseRedisUrl(const std::string& url, std::string_view rest) {
  auto bad = [&](const std::string& why) {
    return fail("bad Redis URL '" + url + "': " + why +
                " (expected redis://HOST:PORT[/DB] or unix:///PATH[?db=N])");
  };
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("query strings and fragments are not supported");
  }
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view db_part;
  if (authority.size() < rest.size()) db_part = rest.substr(authority.size() + 1);
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported");
  }

  Endpoint ep;
  std::string_view host;
  std::string_view port_part;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ']'");
      port_part = after.substr(1);
      if (port_part.empty()) return bad("empty port");
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return bad("an IPv6 address must be written in brackets, e.g. redis://[::1]:6379");
    }
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_part = authority.substr(colon + 1);
      if (port_part.empty()) return bad("empty port");
    }
  }
  if (host.empty()) return bad("missing host");
  ep.port = kDefaultPort;
  if (!port_part.empty() && !parseInt(port_part, 1, 65535, &ep.port)) {
    return bad("port '" + std::string(port_part) + "' is not a number in 1..65535");
  }
  if (!db_part.empty() && !parseInt(db_part, 0, 1 << 20, &ep.db)) {
    return bad("database '" + std::string(db_part) + "' is not a non-negative number");
  }
  auto ip = resolve(std::string(host));
  if (!ip.ok()) return bad(ip.error());
  ep.host = std::move(ip.value());
  return ep;
}

Result<Endpoint, std::string> parseUnixUrl(const std::string& url, std::string_view rest) {
  auto bad = [&](const std::string& why) {
    return fail("bad Redis URL '" + url + "': " + why + " (expected unix:///PATH[?db=N])");
  };
  Endpoint ep;
  std::string_view path = rest.substr(0, rest.find('?'));
  if (path.size() < rest.size()) {
    std::string_view query = rest.substr(path.size() + 1);
    if (query.substr(0, 3) != "db=" || !parseInt(query.substr(3), 0, 1 << 20, &ep.db)) {
      return bad("the only query parameter is db=N, N a non-negative number");
    }
  }
  if (path.empty() || path.front() != '/') return bad("the socket path must be absolute");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return bad("the socket path is longer than " +
               std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  ep.unix_path = std::string(path);
  return ep;
}

}  // namespace

std::string Endpoint::describe() const {
  if (!unix_path.empty()) {
    return "unix://" + unix_path + (db != 0 ? "?db=" + std::to_string(db) : "");
  }
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         (db != 0 ? "/" + std::to_string(db) : "");
}

Result<Endpoint, std::string> parseEndpoint(const std::string& url) {
  std::string_view u = url;
  if (u.substr(0, kRedisScheme.size()) == kRedisScheme) {
    return parseRedisUrl(url, u.substr(kRedisScheme.size()));
  }
  if (u.substr(0, kUnixScheme.size()) == kUnixScheme) {
    return parseUnixUrl(url, u.substr(kUnixScheme.size()));
  }
  return fail("bad Redis URL '" + url +
              "': expected redis://HOST:PORT[/DB] or unix:///PATH[?db=N]");
}

}  // namespace courier::redis
