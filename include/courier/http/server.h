// An evhttp server on one worker's event_base. It knows nothing of Redis or of the API: it
// turns evhttp requests into Request + Responder and hands them to one callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "courier/http/request.h"
#include "courier/http/responder.h"
#include "courier/util/result.h"

struct event_base;

namespace courier::http {

struct ServerOptions {
  // evhttp answers bodies over this cap itself (HTML 413): set it to the largest body any route
  // takes and check smaller limits in the handlers.
  size_t max_body_bytes = 16 * 1024 * 1024;
  size_t max_headers_bytes = 64 * 1024;
  int idle_timeout_s = 120;  // keep-alive connections idle this long are closed
};

class HttpServer {
 public:
  using OnRequest = std::function<void(Request&&, Responder&&)>;

  HttpServer(event_base* base, ServerOptions options, OnRequest on_request);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port with SO_REUSEPORT (port 0: a free port). Returns the bound port. Several
  // servers (one per worker) may bind the same port: bind the first with port 0 (or a fixed
  // port, which must then be free), the others with `join` and the port it returned.
  Result<int, std::string> bind(const std::string& host, int port, bool join = false);

  // Stops accepting new connections; requests already received are still answered.
  void stopListening();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::http
