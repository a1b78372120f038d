// The daemon's HTTP client for one Courier server: asynchronous, on the daemon's event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "courier/util/result.h"

struct evdns_base;
struct event;
struct event_base;
struct evhttp_connection;
struct evhttp_request;

namespace courier::daemon {

struct ServerUrl {
  std::string host;
  int port = 80;
  std::string base_path;  // "" or "/prefix" (no trailing slash), prepended to every API path
  std::string hostHeader() const;
  std::string describe() const;  // "http://host:port/prefix"
};

// http://HOST[:PORT][/PREFIX]; https is not supported (put a TLS proxy in front).
Result<ServerUrl, std::string> parseServerUrl(const std::string& url);

struct HttpReply {
  int status = 0;  // 0: no HTTP response (refused, reset, timed out, unresolvable)
  std::string body;
  std::string error;  // why, when status is 0

  bool ok() const { return status >= 200 && status < 300; }
  // Worth trying again later: no response, a 5xx, 408 or 429.
  bool transient() const { return status == 0 || status >= 500 || status == 408 || status == 429; }
  // The "code" field of a JSON error body, or "".
  std::string code() const;
  // One line for logs: "503 store_unavailable: Redis unavailable" or "connection refused".
  std::string describe() const;
};

// POSTs JSON to the server with the daemon token. Each call has a connection to itself, taken
// from a small pool of kept-alive ones (evhttp serialises requests on a connection, and the
// long-poll claim must not hold up lease extensions and reports). A call ends in exactly one
// callback, on the loop thread, unless it is cancelled or the client is destroyed first — then
// never. Loop thread only.
class ServerClient {
 public:
  using Callback = std::function<void(HttpReply)>;
  using CallId = uint64_t;

  ServerClient(event_base* base, ServerUrl url, std::string token, std::string consumer);
  ~ServerClient();
  ServerClient(const ServerClient&) = delete;
  ServerClient& operator=(const ServerClient&) = delete;

  // POST base_path + `path`. `timeout_s` bounds connecting, each write and each read.
  // `consumer`: send X-Courier-Consumer. The callback may start new calls or cancel others.
  CallId post(const std::string& path, std::string body, int timeout_s, Callback cb,
              bool consumer = false);
  // Drops a call in flight: its callback will not run. Unknown or finished ids are ignored.
  void cancel(CallId id);
  size_t inFlight() const { return calls_.size(); }

 private:
  struct Call {
    ServerClient* client;
    CallId id;
    evhttp_connection* conn;
    Callback cb;
    int error = -1;  // the evhttp_request_error libevent reported, if any
  };

  static void onResponse(evhttp_request* req, void* arg) noexcept;
  static void onError(int error, void* arg) noexcept;
  static void onReleased(int, short, void* arg) noexcept;
  evhttp_connection* acquire(int timeout_s);
  // Returns a connection once its callback has returned (libevent still uses it until then).
  void releaseLater(evhttp_connection* conn, bool reusable);

  event_base* base_;
  evdns_base* dns_;
  ServerUrl url_;
  std::string token_;
  std::string consumer_;
  CallId next_id_ = 1;
  std::unordered_map<CallId, std::unique_ptr<Call>> calls_;
  std::vector<evhttp_connection*> idle_;
  std::vector<std::pair<evhttp_connection*, bool>> releasing_;
  // Replies delivered at the next turn: calls that could not start, and callbacks libevent runs
  // from inside evhttp_make_request (a connect that fails at once) — a callback never runs
  // inside post().
  struct Deferred {
    CallId id;
    Callback cb;
    HttpReply reply;
  };
  std::vector<Deferred> deferred_;
  bool posting_ = false;  // inside evhttp_make_request
  event* release_event_;
};

}  // namespace courier::daemon
