#include "courier/http/peer_watch.h"

#include <event2/event.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace courier::http {
namespace {

enum class Peek { kGone, kBytesPending, kNothing };

Peek peek(int fd) {
  char byte;
  ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Peek::kBytesPending;
  if (n == 0) return Peek::kGone;  // orderly shutdown (FIN)
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Peek::kNothing;
  return Peek::kGone;  // ECONNRESET, or a socket that is no longer usable
}

}  // namespace

PeerWatch::PeerWatch(event_base* base, int fd, std::function<void()> on_gone)
    : on_gone_(std::move(on_gone)) {
  // Level-triggered and persistent: a spurious wake-up (EAGAIN) simply waits for the next one.
  ev_ = event_new(base, fd, EV_READ | EV_PERSIST, &PeerWatch::onReadable, this);
  if (ev_ == nullptr || event_add(ev_, nullptr) != 0) {
    spdlog::error("http: cannot watch the peer of fd {}", fd);
  }
}

PeerWatch::~PeerWatch() {
  if (ev_ != nullptr) event_free(ev_);
}

bool PeerWatch::peerGone(int fd) { return peek(fd) == Peek::kGone; }

void PeerWatch::onReadable(int fd, short /*what*/, void* arg) noexcept {
  auto* self = static_cast<PeerWatch*>(arg);
  Peek result = peek(fd);
  if (result == Peek::kNothing) return;
  // Either way there is nothing more to learn from this socket: bytes pending are the client's
  // next (pipelined) request, which evhttp reads after our reply.
  event_del(self->ev_);
  if (result != Peek::kGone) return;
  // Moved out first: on_gone may destroy this PeerWatch (its owner is usually the waiter being
  // released), and `self` must not be touched after that.
  std::function<void()> on_gone = std::move(self->on_gone_);
  try {
    if (on_gone) on_gone();
  } catch (const std::exception& e) {
    spdlog::error("http: PeerWatch on_gone threw: {}", e.what());
  } catch (...) {
    spdlog::error("http: PeerWatch on_gone threw");
  }
}

}  // namespace courier::http
