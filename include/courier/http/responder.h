// The one way to answer an HTTP request, exactly once. Move-only: whoever holds it owns the
// answer. evhttp keeps an unanswered request alive even after its client left and frees it when
// we reply, so a Responder that is dropped unanswered still replies (500) — and complains in
// debug builds, because that is a bug.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct evhttp_request;
struct evhttp_connection;

namespace courier::http {

class Responder {
 public:
  Responder() = default;
  explicit Responder(evhttp_request* req);
  Responder(Responder&& other) noexcept;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // Sends status + body. `headers` are extra headers (Content-Type defaults to JSON).
  void send(int status, std::string_view body,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            std::string_view content_type = "application/json");

  // Streaming (Server-Sent Events): start a chunked reply, send chunks, end it.
  void startStream(int status, std::string_view content_type,
                   const std::vector<std::pair<std::string, std::string>>& headers = {});
  void sendChunk(std::string_view data);
  void endStream();
  // Streaming only: while a stream is open evhttp itself reads the socket (to detect a close)
  // and frees the connection when the client leaves, so a socket watch of our own must stop.
  // `cb(arg)` runs once, from the loop, if the connection closes before endStream(); the
  // Responder stays valid (endStream() then just frees the request).
  using CloseCallback = void (*)(void* arg);
  void setOnClose(CloseCallback cb, void* arg);

  // True while this Responder still owns an unanswered request.
  bool pending() const { return req_ != nullptr && !streaming_; }
  bool valid() const { return req_ != nullptr; }

  // Called once with the status of every reply (for metrics/access logs). Process-wide, set at
  // start before any worker runs.
  // `tag` is what setTag() stored (the router tags each request with its route).
  using Observer = void (*)(int status, uint32_t tag);
  static void setObserver(Observer observer);
  void setTag(uint32_t tag) { tag_ = tag; }

 private:
  evhttp_request* req_ = nullptr;
  struct CloseHook;
  static void onConnectionClosed(evhttp_connection* conn, void* arg);
  void dropCloseHook();

  bool streaming_ = false;
  uint32_t tag_ = 0;
  std::unique_ptr<CloseHook> close_hook_;  // heap: its address is evhttp's closecb argument
};

}  // namespace courier::http
