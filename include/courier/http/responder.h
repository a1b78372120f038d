// The one way to answer an HTTP request, exactly once. Move-only: whoever holds it owns the
// answer. evhttp keeps an unanswered request alive even after its client left and frees it when
// we reply, so a Responder that is dropped unanswered still replies (500) — and complains in
// debug builds, because that is a bug.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct evhttp_request;

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
  bool streaming_ = false;
  uint32_t tag_ = 0;
};

}  // namespace courier::http
