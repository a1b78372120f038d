#include "courier/bench/timer.h"

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace courier::bench {

Timer::Timer(event_base* base, std::function<void()> cb)
    : ev_(evtimer_new(base, &Timer::onFire, this)), cb_(std::move(cb)) {}

Timer::~Timer() {
  if (ev_ != nullptr) event_free(ev_);
}

void Timer::start(int64_t delay_ns) {
  if (delay_ns < 0) delay_ns = 0;
  const timeval tv{static_cast<time_t>(delay_ns / 1'000'000'000),
                   static_cast<suseconds_t>((delay_ns % 1'000'000'000) / 1000)};
  evtimer_add(ev_, &tv);
}

void Timer::cancel() { evtimer_del(ev_); }

bool Timer::pending() const { return evtimer_pending(ev_, nullptr) != 0; }

void Timer::onFire(evutil_socket_t, short, void* arg) noexcept {
  // Same policy as the HTTP callbacks: an exception here is a harness bug.
  try {
    static_cast<Timer*>(arg)->cb_();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "courier-bench: internal error in a timer: %s\n", e.what());
    std::abort();
  }
}

}  // namespace courier::bench
