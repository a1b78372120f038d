// The load generator's HTTP client: libevent's evhttp client, one keep-alive connection per
// simulated client, all on the caller's event loop.
#pragma once

#include <event2/http.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "courier/bench/common.h"

struct event_base;

namespace courier::bench {

// Why an exchange produced no HTTP response.
enum class Failure { kNone, kTimeout, kConnection };

struct HttpResponse {
  int status = 0;  // 0 when the exchange failed; `failure` says how
  Failure failure = Failure::kNone;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
};

using Headers = std::vector<std::pair<std::string, std::string>>;
using HttpCallback = std::function<void(HttpResponse&&)>;

// One keep-alive HTTP/1.1 connection to one endpoint. Requests sent while another is in flight
// queue behind it (evhttp sends them one at a time), so a simulated client that wants two
// exchanges at once uses two connections. evhttp reconnects by itself after the server closes.
//
// Lifetime: owned by one simulated client and used only from its loop's thread. The callback of
// send() runs exactly once, on that thread, unless the connection is destroyed first; then it
// never runs (destruction drops the queued requests silently, which is what a run's teardown
// wants). Never destroy a connection from inside one of its own callbacks.
class HttpConn {
 public:
  struct Options {
    int timeout_s = 75;         // longer than any long-poll the harness parks (≤ 60 s)
    std::string local_address;  // bind() source address before connect, e.g. "127.0.0.2"
    Headers default_headers;    // sent with every request (Authorization, consumer id)
  };

  HttpConn(event_base* base, const Endpoint& to, Options options);
  ~HttpConn();
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  // Queues one request. `body` is sent as application/json when not empty. False (and no
  // callback) if evhttp refused to queue it.
  bool send(evhttp_cmd_type method, const std::string& path, std::string_view body, HttpCallback cb,
            const Headers& extra_headers = {});

  size_t inFlight() const { return calls_.size(); }

 private:
  struct Call;
  static void onDone(evhttp_request* req, void* arg) noexcept;
  static void onError(evhttp_request_error error, void* arg) noexcept;

  evhttp_connection* evcon_ = nullptr;
  std::string host_header_;
  Headers default_headers_;
  std::unordered_set<Call*> calls_;  // owned: freed when their callback ran, or by ~HttpConn
};

// How an exchange failed, for the error counts: "STEP:http_503", "STEP:timeout",
// "STEP:connection" (or without "STEP:" when `step` is empty).
std::string failureKind(std::string_view step, const HttpResponse& r);

// One request run to completion on a private event loop: for setup, scrapes and checks, never
// inside a measured loop. A failure comes back as status 0 with `failure` set.
HttpResponse fetchSync(const Endpoint& to, evhttp_cmd_type method, const std::string& path,
                       std::string_view body = {}, const Headers& headers = {}, int timeout_s = 10);

}  // namespace courier::bench
