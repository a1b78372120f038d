// The daemon's event loop: a libevent base, a thread-safe way to run work on it, and timers.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

struct event;
struct event_base;

namespace courier::daemon {

// Owns the event_base. evthread_use_pthreads() must have been called before it is constructed,
// so post() may be called from any thread.
class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  event_base* base() const { return base_; }

  // Runs `fn` on the loop thread at a later turn, never inside the caller. Thread-safe. Work
  // still queued when the loop is destroyed is dropped without running.
  void post(std::function<void()> fn);

  // Runs until stop().
  void run();
  // Makes run() return after the current callback. Loop thread only.
  void stop();

 private:
  static void onPosted(int, short, void* arg) noexcept;

  event_base* base_;
  event* posted_event_;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
};

// A one-shot timer on a loop. Loop thread only. Safe to restart, stop or destroy from inside its
// own callback (libevent has removed a non-persistent event before running it).
class Timer {
 public:
  Timer(event_base* base, std::function<void()> fn);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void start(int64_t delay_ms);  // (re)arms
  void stop();
  bool pending() const;

 private:
  static void onFire(int, short, void* arg) noexcept;

  event* event_;
  std::function<void()> fn_;
};

}  // namespace courier::daemon
