// Parked long-polls of one worker, and the pub/sub subscriptions that wake them.
//
// The order is what makes waiting race-free (DESIGN.md "Waiting without polling"):
//   1. register the waiter; subscribe its channels and wait for the acknowledgements;
//   2. only then read state (Waiter::check); if satisfied, it answers at once;
//   3. otherwise park until a wake-up concerns it (check again), or its wait or its next
//      deadline runs out.
// The command and subscriber connections are separate sockets, so a wake-up can overtake the
// reply to a read issued before it: a wake-up that arrives while a check is in flight marks the
// waiter dirty, and a dirty waiter checks again instead of parking.
//
// Two things spare reads. A wake-up that ends a request carries the record as the ending script
// wrote it (when it is small), so a GET parked on it answers without reading. And every
// wake-up tells the version and next deadline of a live request: while its channel stays
// subscribed, no change can pass unseen, so a GET for a request this worker knows to be short
// of what it waits for parks at once, without a first read (Channel::known); likewise a claim
// on runtimes a read found idle, with no 'pending' wake-up since (Channel::idle). Everything
// else is read from Redis. After the subscriber reconnects,
// every waiter of a channel is re-checked once the channel is acknowledged again; after the
// command connection comes back, every parked waiter is re-checked.
//
// One Waiters per worker; everything here runs on that worker's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "courier/core/metrics.h"
#include "courier/core/record.h"
#include "courier/core/store.h"
#include "courier/redis/subscriber.h"

struct event_base;
struct event;

namespace courier {

// What a wake-up message says: {"id","kind","status","version"}, plus "next_ms" on running
// wake-ups and "rec" (the record's 11 public fields, as strings) on most terminal ones.
struct WakeEvent {
  std::string id;
  std::string kind;
  std::string status;
  int64_t version = 0;
  int64_t next_ms = -1;          // "running" wake-ups: ms to the new lease deadline (-1: none)
  std::optional<Record> record;  // the record at `version`, when the message carries it
  bool terminal() const { return status != "pending" && status != "running"; }
};

bool parseWakeEvent(std::string_view json, WakeEvent* out);

class Waiter {
 public:
  enum class Outcome {
    kAnswered,     // it replied to its client: done
    kPark,         // not satisfied yet; `next_deadline_ms` (-1: none) bounds the park
    kUnavailable,  // the store could not be read: stay parked, re-check when it is back
  };
  using Done = std::function<void(Outcome, int64_t next_deadline_ms)>;

  virtual ~Waiter() = default;

  // "claim" | "get" (for metrics).
  virtual std::string_view type() const = 0;
  // The runtime channels whose wake-ups concern it.
  virtual const std::vector<std::string>& channels() const = 0;
  // The request it waits on (GETs), or empty (claims).
  virtual const std::string& requestId() const = 0;
  // True if this wake-up may satisfy it.
  virtual bool wakesOn(const WakeEvent& e) const = 0;

  // Answers from the record a wake-up carries, without reading, if that record satisfies it;
  // false: it must read (no record, or this waiter needs more than the record).
  virtual bool answerFrom(const WakeEvent&) { return false; }
  // True if, when this node already knows its request's version and next deadline from the
  // wake-ups of a channel subscribed throughout, it may park without a first read — that is,
  // if a read would tell it nothing more than "not yet" (no owner or kind to check).
  virtual bool mayParkUnread() const { return false; }
  // Claims: true if its read looks at every kind of its runtimes (not a per-kind capped
  // compatibility claim), so a read that found nothing means the runtimes are idle.
  virtual bool claimsEverything() const { return false; }
  // Claims: true if the read just answered took fewer requests than it could (so it left
  // nothing claimable); `done` then carries the runtimes' next deadline.
  virtual bool readDrained() const { return false; }

  // Claims: who a create on this node may hand a new request of `kind` to directly, in its own
  // script (lua/create.lua), and how many it takes; nullopt: no handoff for this waiter.
  struct Handoff {
    std::string consumer;
    int max = 0;
  };
  virtual std::optional<Handoff> handoffFor(const std::string& /*kind*/) const {
    return std::nullopt;
  }
  // Answers with the requests a create handed it, in place of a check; `done` as for check.
  virtual void handedOff(std::vector<ClaimedRequest> /*requests*/, Done done) {
    done(Outcome::kPark, -1);
  }

  // Reads the state it waits for and calls `done` exactly once (possibly after answering).
  // `final`: the wait is over — answer with whatever is read (kAnswered, or kUnavailable).
  virtual void check(bool final, Done done) = 0;
  // Answers now without reading (the store is gone and the wait is over, or the node stops
  // with Redis away): with `err`.
  virtual void abandon(std::string_view code_hint) = 0;
  // The client hung up while parked: answer anything (evhttp frees the request on reply).
  virtual void onClientGone() = 0;

  // Peeks at the client's socket now: true if it hung up (checked before a woken claim runs).
  virtual bool peekGone() const = 0;

  // True once the client hung up: a claim that comes back with requests must then release
  // them instead of answering them.
  bool gone() const { return gone_; }

 protected:
  // Subclasses call this when their client hangs up (from their socket watch). Waiters then
  // releases the waiter at once if it is parked, or after its in-flight check.
  void clientLeft() {
    gone_ = true;
    if (on_gone_) on_gone_();
  }

 private:
  friend class Waiters;
  bool gone_ = false;
  std::function<void()> on_gone_;
};

struct WaitersOptions {
  int linger_ms = 5000;  // a channel stays subscribed this long after its last waiter
};

class Waiters : public redis::Subscriber::Handler {
 public:
  struct Stats {
    size_t parked_claims = 0;
    size_t parked_gets = 0;
    uint64_t wakeups = 0;  // wake-up messages that concerned at least one waiter
  };

  // `metrics` (optional, owned by the worker) gets the parked gauges and wake-up counts.
  Waiters(event_base* base, redis::Subscriber& subscriber, WaitersOptions options = {},
          WorkerMetrics* metrics = nullptr);
  ~Waiters() override;
  Waiters(const Waiters&) = delete;
  Waiters& operator=(const Waiters&) = delete;

  // Takes a waiter that may wait up to `wait_ms` (0: check once, answer at once).
  void add(std::unique_ptr<Waiter> waiter, int64_t wait_ms);

  // A create is about to run: reserves the longest-parked claim on `channel` that takes `kind`
  // (it counts as checking until endHandoff), so the create can hand it the request at once.
  struct HandoffTicket {
    uint64_t waiter = 0;
    Waiter::Handoff spec;
  };
  std::optional<HandoffTicket> beginHandoff(const std::string& channel, const std::string& kind);
  // The create returned: the requests it handed the claim (which answers with them), or none
  // (the create failed or found an existing request: the claim reads, as if woken).
  void endHandoff(uint64_t waiter, std::vector<ClaimedRequest> handed);

  // The command connection is ready again: re-check every parked waiter.
  void onStoreReady();
  // Node shutdown: every waiter answers with its current state now; no new waiters parked.
  void shutdown();
  bool empty() const { return entries_.empty(); }
  Stats stats() const;

  // redis::Subscriber::Handler
  void onSubscribed(const std::string& channel) override;
  void onMessage(const std::string& channel, std::string_view payload) override;
  void onReset() override;

 private:
  struct Entry;
  struct Channel;

  void startCheck(uint64_t id, bool final);
  void onClientLeft(uint64_t id);
  void onChecked(uint64_t id, Waiter::Outcome outcome, int64_t next_deadline_ms);
  void park(Entry& e, int64_t next_deadline_ms);
  // Parks a new waiter at once if its channel's wake-ups say it is not satisfied yet.
  bool parkKnown(Entry& e);
  // Parks a new claim at once if all its runtimes are known to be idle (Channel::idle).
  bool parkIdleClaim(Entry& e);
  // After a claim read that found nothing: marks its runtimes idle where that is known.
  void noteIdle(const Entry& e, int64_t next_deadline_ms);
  // Starts a check of a woken waiter; false if it turned out to be gone (and was finished).
  bool wake(Entry& e);
  void armTimer(Entry& e, int64_t ms);
  void finish(uint64_t id);
  void retain(const std::string& channel, uint64_t id);
  void releaseChannel(const std::string& channel, uint64_t id);
  Gauge* parkedGauge(const Waiter& w);
  static void onTimer(int, short, void* arg) noexcept;
  static void onLinger(int, short, void* arg) noexcept;
  static void onDeferred(int, short, void* arg) noexcept;

  event_base* base_;
  redis::Subscriber& subscriber_;
  WaitersOptions options_;
  WorkerMetrics* metrics_;
  uint64_t next_id_ = 1;
  bool shutting_down_ = false;
  uint64_t wakeups_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Entry>> entries_;
  std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
  std::unordered_map<std::string, std::vector<uint64_t>> by_request_;
  event* deferred_ = nullptr;  // handles clients that left, on the next loop turn
  std::vector<uint64_t> gone_queue_;
};

}  // namespace courier
