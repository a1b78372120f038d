#include "courier/daemon/loop.h"

#include <event2/event.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <stdexcept>

namespace courier::daemon {

Loop::Loop() : base_(event_base_new()) {
  if (base_ == nullptr) throw std::runtime_error("event_base_new failed");
  posted_event_ = event_new(base_, -1, 0, &Loop::onPosted, this);
}

Loop::~Loop() {
  event_free(posted_event_);
  event_base_free(base_);
}

void Loop::post(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  posted_.push_back(std::move(fn));
  // Thread-safe with evthread_use_pthreads(); activating an already active event is a no-op,
  // and onPosted drains the whole queue.
  event_active(posted_event_, EV_TIMEOUT, 0);
}

void Loop::onPosted(int, short, void* arg) noexcept {
  auto* self = static_cast<Loop*>(arg);
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(self->mutex_);
    work.swap(self->posted_);
  }
  for (auto& fn : work) {
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("unexpected exception in the event loop: {}", e.what());
    }
  }
}

void Loop::run() { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); }

void Loop::stop() { event_base_loopbreak(base_); }

Timer::Timer(event_base* base, std::function<void()> fn)
    : event_(evtimer_new(base, &Timer::onFire, this)), fn_(std::move(fn)) {}

Timer::~Timer() { event_free(event_); }

void Timer::start(int64_t delay_ms) {
  timeval tv{static_cast<time_t>(delay_ms / 1000),
             static_cast<suseconds_t>(delay_ms % 1000 * 1000)};
  evtimer_add(event_, &tv);
}

void Timer::stop() { evtimer_del(event_); }

bool Timer::pending() const { return evtimer_pending(event_, nullptr) != 0; }

void Timer::onFire(int, short, void* arg) noexcept {
  auto* self = static_cast<Timer*>(arg);
  // Copied: the callback may destroy this timer.
  auto fn = self->fn_;
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::error("unexpected exception in a timer: {}", e.what());
  }
}

}  // namespace courier::daemon
