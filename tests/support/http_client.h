// A small blocking HTTP/1.1 client for tests, over loopback TCP.
//
// It never hangs: every call is bounded by the timeout (default 75 s, above the API's longest
// long-poll), and a timeout or connection error comes back as status 0 with the reason in body.
// One object is one keep-alive connection; not thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace courier::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;  // 0: no response (timeout, connection error); body says why
  std::string body;
  Headers headers;

  // The first header called `name`, compared case-insensitively.
  std::optional<std::string> header(const std::string& name) const;
  // The body parsed as JSON; records a test failure (and returns null) if it is not JSON.
  rapidjson::Document json() const;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
  ~HttpClient();

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its response on the kept-alive connection, connecting first if
  // needed. Adds Host, and Content-Length when there is a body or the method usually has one,
  // unless `headers` has them. If a reused connection turns out to have been closed by the
  // server before any response byte arrived, reconnects and sends once more.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body = "", Headers headers = {});
  HttpResponse get(const std::string& target, Headers headers = {});
  HttpResponse post(const std::string& target, const std::string& body, Headers headers = {});
  HttpResponse del(const std::string& target, Headers headers = {});

  // Writes bytes as they are (connecting if needed), for pipelining and partial-request tests;
  // follow with readResponse(). Returns false on a write error.
  bool sendRaw(const std::string& bytes);
  // Reads the next response on the connection (responses to pipelined requests come in order).
  // `head_request`: the response has no body whatever its headers say.
  HttpResponse readResponse(bool head_request = false);

  // True once the server has closed the connection (EOF seen), without consuming data.
  bool peerClosed();
  void close();
  int fd() const { return fd_; }  // -1 when not connected
  // Bounds connect and each send (SO_SNDTIMEO) and each whole response read (a deadline, not a
  // per-recv timeout, so a server trickling bytes cannot stretch it). Default 75000.
  void setTimeoutMs(int ms);
  int port() const { return port_; }

 private:
  bool connect(std::string* error);
  bool writeAll(const std::string& bytes, std::string* error);
  enum class Fill { kData, kClosed, kTimeout, kError };
  // Reads more bytes into buffer_, waiting until `deadline_ms` (monotonic) at most.
  Fill fill(long long deadline_ms, std::string* error);
  bool readLine(std::string* line, long long deadline_ms, std::string* error);
  bool readExactly(size_t n, std::string* out, long long deadline_ms, std::string* error);
  bool readUntilClose(std::string* out, long long deadline_ms, std::string* error);
  HttpResponse failure(const std::string& what);

  std::string host_;
  int port_;
  int fd_ = -1;
  int timeout_ms_ = 75000;
  std::string buffer_;  // received, not yet consumed (a pipelined response may already be here)
  // Set by readResponse: the server closed the connection before sending a byte of the response
  // (a kept-alive connection it dropped; request() then retries once on a new one).
  bool closed_early_ = false;
};

// {"Authorization", "Bearer TOKEN"}
std::pair<std::string, std::string> bearer(const std::string& token);

}  // namespace courier::testing
