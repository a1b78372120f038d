#include "courier/bench/http_client.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include <cstdio>
#include <memory>

namespace courier::bench {

// One request handed to evhttp. evhttp calls the error callback (if the exchange failed) and
// then the done callback, both with this as their argument; the done callback takes ownership
// back, so a Call lives exactly until its request finished.
struct HttpConn::Call {
  HttpConn* conn;
  HttpCallback cb;
  Failure failure = Failure::kNone;
};

HttpConn::HttpConn(event_base* base, const Endpoint& to, Options options)
    : host_header_(to.str()), default_headers_(std::move(options.default_headers)) {
  evcon_ =
      evhttp_connection_base_new(base, nullptr, to.host.c_str(), static_cast<ev_uint16_t>(to.port));
  if (evcon_ == nullptr) return;
  evhttp_connection_set_timeout(evcon_, options.timeout_s);
  // A failed exchange is an error the run counts, not something to hide behind a retry.
  evhttp_connection_set_retries(evcon_, 0);
  if (!options.local_address.empty()) {
    evhttp_connection_set_local_address(evcon_, options.local_address.c_str());
  }
}

HttpConn::~HttpConn() {
  // evhttp_connection_free drops queued requests without calling their callbacks, so the Calls
  // they carried are freed here.
  if (evcon_ != nullptr) evhttp_connection_free(evcon_);
  for (Call* call : calls_) delete call;
}

bool HttpConn::send(evhttp_cmd_type method, const std::string& path, std::string_view body,
                    HttpCallback cb, const Headers& extra_headers) {
  if (evcon_ == nullptr) return false;
  auto call = std::make_unique<Call>(Call{this, std::move(cb)});
  evhttp_request* req = evhttp_request_new(&HttpConn::onDone, call.get());
  if (req == nullptr) return false;
  evhttp_request_set_error_cb(req, &HttpConn::onError);
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Host", host_header_.c_str());
  for (const auto& [name, value] : default_headers_) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  for (const auto& [name, value] : extra_headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  if (!body.empty()) {
    evhttp_add_header(headers, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  }
  // On failure evhttp_make_request frees the request itself; we still own the Call.
  if (evhttp_make_request(evcon_, req, method, path.c_str()) != 0) return false;
  calls_.insert(call.release());
  return true;
}

void HttpConn::onError(evhttp_request_error error, void* arg) noexcept {
  auto* call = static_cast<Call*>(arg);
  call->failure = error == EVREQ_HTTP_TIMEOUT ? Failure::kTimeout : Failure::kConnection;
}

void HttpConn::onDone(evhttp_request* req, void* arg) noexcept {
  std::unique_ptr<Call> call(static_cast<Call*>(arg));
  call->conn->calls_.erase(call.get());
  HttpResponse response;
  if (req == nullptr || evhttp_request_get_response_code(req) == 0) {
    response.failure = call->failure == Failure::kNone ? Failure::kConnection : call->failure;
  } else {
    response.status = evhttp_request_get_response_code(req);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    const size_t n = evbuffer_get_length(in);
    response.body.resize(n);
    if (n > 0) evbuffer_remove(in, response.body.data(), n);
  }
  // No exception may unwind into libevent: a throwing callback is a harness bug, so say so and
  // stop rather than carry on with a half-updated client.
  try {
    call->cb(std::move(response));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "courier-bench: internal error in an HTTP callback: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "courier-bench: internal error in an HTTP callback\n");
    std::abort();
  }
}

std::string failureKind(std::string_view step, const HttpResponse& r) {
  std::string out = step.empty() ? "" : std::string(step) + ":";
  if (r.status != 0) return out + "http_" + std::to_string(r.status);
  return out + (r.failure == Failure::kTimeout ? "timeout" : "connection");
}

HttpResponse fetchSync(const Endpoint& to, evhttp_cmd_type method, const std::string& path,
                       std::string_view body, const Headers& headers, int timeout_s) {
  std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), &event_base_free);
  HttpResponse out;
  out.failure = Failure::kConnection;
  if (!base) return out;
  bool done = false;
  {
    HttpConn conn(base.get(), to,
                  {.timeout_s = timeout_s, .local_address = {}, .default_headers = headers});
    const bool queued = conn.send(method, path, body, [&](HttpResponse&& r) {
      out = std::move(r);
      done = true;
    });
    if (!queued) return out;
    // The connection's own timeout bounds this loop.
    while (!done && event_base_loop(base.get(), EVLOOP_ONCE) == 0) {
    }
  }
  return out;
}

}  // namespace courier::bench
