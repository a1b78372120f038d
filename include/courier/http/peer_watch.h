// Tells when the client of a parked request hangs up. evhttp 2.1 stops reading a connection
// while its request is unanswered, so it cannot tell us: we watch the socket ourselves with a
// read event and a 1-byte recv(MSG_PEEK). 0 or ECONNRESET: gone. Pending bytes: a pipelined
// request, so the client is alive and we stop watching. Owned by the parked waiter, on its
// worker's thread; destroy it (removing the event) before replying.
#pragma once

#include <functional>
#include <memory>

struct event_base;
struct event;

namespace courier::http {

class PeerWatch {
 public:
  // `on_gone` is called at most once, from the loop, never from the constructor.
  PeerWatch(event_base* base, int fd, std::function<void()> on_gone);
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  // Peeks now: true if the peer has closed or reset the connection.
  static bool peerGone(int fd);

 private:
  static void onReadable(int fd, short what, void* arg) noexcept;
  event* ev_ = nullptr;
  std::function<void()> on_gone_;
};

}  // namespace courier::http
