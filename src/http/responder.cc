#include "courier/http/responder.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <string>

#include "courier/http/router.h"

namespace courier::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Written once at start-up, before any worker thread exists, then only read.
Responder::Observer g_observer = nullptr;

void notifyObserver(int status, uint32_t tag) {
  if (g_observer != nullptr) g_observer(status, tag);
}

// Extra headers first, so that a Content-Type among them wins over `content_type`. evhttp refuses
// values containing CR or LF, which is what keeps a header value from splitting the response.
void addHeaders(evhttp_request* req, const Headers& headers, const std::string& content_type) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    if (strcasecmp(name.c_str(), "Content-Type") == 0) has_type = true;
    if (evhttp_add_header(out, name.c_str(), value.c_str()) != 0) {
      spdlog::warn("http: dropped invalid response header \"{}\"", name);
    }
  }
  if (!has_type && !content_type.empty()) {
    evhttp_add_header(out, "Content-Type", content_type.c_str());
  }
}

}  // namespace

struct Responder::CloseHook {
  CloseCallback cb;
  void* arg;
};

Responder::Responder(evhttp_request* req) : req_(req) {}

Responder::Responder(Responder&& other) noexcept
    : req_(std::exchange(other.req_, nullptr)),
      streaming_(std::exchange(other.streaming_, false)),
      tag_(other.tag_),
      close_hook_(std::move(other.close_hook_)) {}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    Responder dropped(std::move(*this));  // answers the request this one still owned, if any
    req_ = std::exchange(other.req_, nullptr);
    streaming_ = std::exchange(other.streaming_, false);
    tag_ = other.tag_;
    close_hook_ = std::move(other.close_hook_);
  }
  return *this;
}

// Dropping an unanswered request is a bug somewhere above, but the client must still get an
// answer, and evhttp only frees the request once we reply. A stream that was started is simply
// ended: the client already has its status.
Responder::~Responder() {
  if (req_ == nullptr) return;
  if (streaming_) {
    endStream();
    return;
  }
  try {
#ifndef NDEBUG
    const char* uri = evhttp_request_get_uri(req_);
    spdlog::error("http: request dropped unanswered: {}", uri != nullptr ? uri : "?");
#endif
    send(500, errorBody("internal", "internal error: request dropped unanswered"));
  } catch (...) {
    // Out of memory while building the body: still answer, or evhttp never frees the request.
    if (req_ != nullptr) {
      evhttp_send_reply(std::exchange(req_, nullptr), 500, nullptr, nullptr);
      notifyObserver(500, tag_);
    }
  }
}

void Responder::send(int status, std::string_view body, const Headers& headers,
                     std::string_view content_type) {
  if (!pending()) {
    spdlog::error("http: Responder::send({}) without a pending request", status);
    return;
  }
  // Allocates, so before req_ is given up: if it throws, the request is still ours to answer.
  const std::string type(content_type);
  evhttp_request* req = std::exchange(req_, nullptr);
  addHeaders(req, headers, type);
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  // Frees `req`, now or once written (at once if the client already left).
  evhttp_send_reply(req, status, nullptr, nullptr);
  notifyObserver(status, tag_);
}

void Responder::startStream(int status, std::string_view content_type, const Headers& headers) {
  if (!pending()) {
    spdlog::error("http: Responder::startStream({}) without a pending request", status);
    return;
  }
  addHeaders(req_, headers, std::string(content_type));
  evhttp_send_reply_start(req_, status, nullptr);
  streaming_ = true;
  notifyObserver(status, tag_);
}

void Responder::sendChunk(std::string_view data) {
  if (req_ == nullptr || !streaming_) {
    spdlog::error("http: Responder::sendChunk without a started stream");
    return;
  }
  if (data.empty()) return;  // an empty chunk would end a chunked body
  evbuffer* buf = evbuffer_new();
  if (buf == nullptr) return;
  evbuffer_add(buf, data.data(), data.size());
  evhttp_send_reply_chunk(req_, buf);
  evbuffer_free(buf);
}

void Responder::endStream() {
  if (req_ == nullptr || !streaming_) {
    spdlog::error("http: Responder::endStream without a started stream");
    return;
  }
  streaming_ = false;
  dropCloseHook();
  evhttp_send_reply_end(std::exchange(req_, nullptr));  // frees the request
}

void Responder::setOnClose(CloseCallback cb, void* arg) {
  if (req_ == nullptr || !streaming_) return;
  evhttp_connection* conn = evhttp_request_get_connection(req_);
  if (conn == nullptr) return;  // already gone
  close_hook_ = std::make_unique<CloseHook>(CloseHook{cb, arg});
  evhttp_connection_set_closecb(conn, &Responder::onConnectionClosed, close_hook_.get());
}

// evhttp is freeing the connection (the client left): the request it carried is detached and
// stays ours until endStream().
void Responder::onConnectionClosed(evhttp_connection*, void* arg) {
  auto* hook = static_cast<CloseHook*>(arg);
  try {
    hook->cb(hook->arg);
  } catch (const std::exception& e) {
    spdlog::error("http: close callback: {}", e.what());
  }
}

void Responder::dropCloseHook() {
  if (!close_hook_) return;
  if (req_ != nullptr) {
    if (evhttp_connection* conn = evhttp_request_get_connection(req_)) {
      evhttp_connection_set_closecb(conn, nullptr, nullptr);
    }
  }
  close_hook_.reset();
}

void Responder::setObserver(Observer observer) { g_observer = observer; }

}  // namespace courier::http
