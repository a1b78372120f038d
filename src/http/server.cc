#include "courier/http/server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "courier/http/router.h"

namespace courier::http {
namespace {

Method toMethod(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return Method::kGet;
    case EVHTTP_REQ_HEAD:
      return Method::kHead;
    case EVHTTP_REQ_POST:
      return Method::kPost;
    case EVHTTP_REQ_PUT:
      return Method::kPut;
    case EVHTTP_REQ_DELETE:
      return Method::kDelete;
    case EVHTTP_REQ_PATCH:
      return Method::kPatch;
    case EVHTTP_REQ_OPTIONS:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict, unlike evhttp_uridecode (which passes a malformed escape through as is): every '%'
// must start a two-digit escape, and a decoded NUL is refused, since it would cut the value short
// wherever it reaches a C API.
std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return std::nullopt;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out += c;
  }
  return out;
}

// "a=1&b=x+y&flag" → {a: "1"}, {b: "x y"}, {flag: ""}. Unlike evhttp_parse_query_str, a name
// without '=' and empty components ("a=1&&b=2") are accepted.
std::optional<std::vector<std::pair<std::string, std::string>>> parseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto name = percentDecode(part.substr(0, eq), true);
    auto value = percentDecode(
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

std::string peerOf(evhttp_connection* conn) {
  char* address = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(conn, &address, &port);
  if (address == nullptr) return "?";
  std::string host(address);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

int boundPort(evconnlistener* listener) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return -1;
  }
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

// Lives on the heap so that its address, evhttp's callback argument, never moves. Everything
// here runs on the thread of `base_`.
class HttpServer::Impl {
 public:
  Impl(event_base* base, const ServerOptions& options, OnRequest on_request)
      : base_(base), on_request_(std::move(on_request)) {
    http_ = evhttp_new(base);
    if (http_ == nullptr) return;  // reported by bind()
    evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(options.max_body_bytes));
    evhttp_set_max_headers_size(http_, static_cast<ev_ssize_t>(options.max_headers_bytes));
    evhttp_set_timeout(http_, options.idle_timeout_s);
    // Every method evhttp knows, so that the router answers a wrong one with its JSON 405
    // instead of evhttp's HTML 501.
    evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                          EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    // Over-long bodies: read and discard the rest before answering 413, so that the client
    // reads the 413 instead of a connection reset.
    evhttp_set_flags(http_, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(http_, &Impl::onRequest, this);
  }

  // Frees the listeners and every connection, with any request still parked on them: the
  // Responders of those requests must be gone before this runs.
  ~Impl() {
    if (http_ != nullptr) evhttp_free(http_);
  }

  Result<int, std::string> bind(const std::string& host, int port, bool join) {
    if (http_ == nullptr) return fail(std::string("evhttp_new failed"));
    if (port < 0 || port > 65535) return fail("invalid port " + std::to_string(port));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string where = host + ":" + std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(),
                         &hints, &found);
    if (rc != 0) return fail("cannot resolve " + where + ": " + gai_strerror(rc));

    std::string error = "no address";
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      // SO_REUSEPORT lets any process of this user join a port: the first worker of a node
      // first proves the port free with a plain bind, so a second node cannot silently share
      // (and split) the port of a running one.
      if (!join && port != 0) {
        int probe = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (probe >= 0) setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        bool taken =
            probe >= 0 && ::bind(probe, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE;
        if (probe >= 0) close(probe);
        if (taken) {
          freeaddrinfo(found);
          return fail("cannot listen on " + where + ": " + std::strerror(EADDRINUSE));
        }
      }
      // REUSEABLE_PORT (SO_REUSEPORT): one listener per worker on the same port, the kernel
      // spreading connections among them. CLOSE_ON_EXEC: the embedded redis-server child must
      // not inherit it.
      evconnlistener* listener =
          evconnlistener_new_bind(base_, nullptr, nullptr,
                                  LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                  -1, ai->ai_addr, static_cast<int>(ai->ai_addrlen));
      if (listener == nullptr) {
        error = std::strerror(errno);
        continue;
      }
      evhttp_bound_socket* bound = evhttp_bind_listener(http_, listener);
      if (bound == nullptr) {
        evconnlistener_free(listener);
        error = "evhttp_bind_listener failed";
        continue;
      }
      bound_.push_back(bound);
      int bound_port = boundPort(listener);
      freeaddrinfo(found);
      if (bound_port < 0) return fail("getsockname on " + where + ": " + std::strerror(errno));
      return bound_port;
    }
    freeaddrinfo(found);
    return fail("cannot listen on " + where + ": " + error);
  }

  // Closes the listening sockets (and with them their accept queues); connections already
  // accepted stay with evhttp and their requests can still be answered.
  void stopListening() {
    if (http_ == nullptr) return;
    for (evhttp_bound_socket* bound : bound_) evhttp_del_accept_socket(http_, bound);
    bound_.clear();
  }

 private:
  // evhttp's request callback. The Request is a copy of everything a handler may need, so that
  // the handler can keep it across async steps while evhttp owns the evhttp_request until the
  // Responder answers.
  static void onRequest(evhttp_request* raw, void* arg) noexcept {
    auto* self = static_cast<Impl*>(arg);
    Responder res(raw);
    try {
      Request req;
      if (!fill(raw, req, res)) return;
      self->on_request_(std::move(req), std::move(res));
    } catch (const std::exception& e) {
      // `raw` is known to be alive only while `res` still holds it unanswered.
      const char* uri = res.pending() ? evhttp_request_get_uri(raw) : nullptr;
      spdlog::error("http: handler for {} threw: {}", uri != nullptr ? uri : "?", e.what());
      answerInternal(res);
    } catch (...) {
      spdlog::error("http: handler threw a non-exception");
      answerInternal(res);
    }
  }

  // Only if nobody took the Responder: if a handler moved it away and then threw, its new owner
  // answers (its destructor at the latest).
  static void answerInternal(Responder& res) noexcept {
    try {
      if (res.pending()) res.send(500, errorBody("internal", "internal error"));
    } catch (...) {
      // The Responder's destructor still answers.
    }
  }

  // Copies `raw` into `req`; answers 400 itself (and returns false) if the target is malformed.
  static bool fill(evhttp_request* raw, Request& req, Responder& res) {
    req.method = toMethod(evhttp_request_get_command(raw));
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(raw);
    if (uri == nullptr) {
      res.send(400, errorBody("invalid_path", "malformed request target"));
      return false;
    }
    const char* raw_path = evhttp_uri_get_path(uri);
    std::optional<std::string> path =
        percentDecode(raw_path != nullptr && *raw_path != '\0' ? raw_path : "/", false);
    if (!path) {
      res.send(400, errorBody("invalid_path", "malformed percent-encoding in path"));
      return false;
    }
    req.path = std::move(*path);
    if (const char* raw_query = evhttp_uri_get_query(uri)) {
      auto query = parseQuery(raw_query);
      if (!query) {
        res.send(400, errorBody("invalid_query", "malformed percent-encoding in query"));
        return false;
      }
      req.query = std::move(*query);
    }

    const evkeyvalq* headers = evhttp_request_get_input_headers(raw);
    for (const evkeyval* h = headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
      req.headers.emplace_back(h->key, h->value);
    }

    evbuffer* body = evhttp_request_get_input_buffer(raw);
    req.body.resize(evbuffer_get_length(body));
    if (!req.body.empty()) evbuffer_remove(body, req.body.data(), req.body.size());

    if (evhttp_connection* conn = evhttp_request_get_connection(raw)) {
      req.peer = peerOf(conn);
      req.fd = static_cast<int>(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)));
    }
    return true;
  }

  event_base* base_;
  evhttp* http_ = nullptr;
  OnRequest on_request_;
  std::vector<evhttp_bound_socket*> bound_;
};

HttpServer::HttpServer(event_base* base, ServerOptions options, OnRequest on_request)
    : impl_(std::make_unique<Impl>(base, options, std::move(on_request))) {}

HttpServer::~HttpServer() = default;

Result<int, std::string> HttpServer::bind(const std::string& host, int port, bool join) {
  return impl_->bind(host, port, join);
}

void HttpServer::stopListening() { impl_->stopListening(); }

}  // namespace courier::http
