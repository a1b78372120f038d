// A one-shot libevent timer owned by a simulated client; destroying it cancels it, so a client
// that goes away never gets a callback.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>

namespace courier::bench {

class Timer {
 public:
  Timer(event_base* base, std::function<void()> cb);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer; a pending firing is replaced.
  void start(int64_t delay_ns);
  void cancel();
  bool pending() const;

 private:
  static void onFire(evutil_socket_t, short, void* arg) noexcept;

  event* ev_;
  std::function<void()> cb_;
};

}  // namespace courier::bench
