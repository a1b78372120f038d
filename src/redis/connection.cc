#include "courier/redis/connection.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <random>
#include <utility>
#include <vector>

#include "courier/redis/link.h"

namespace courier::redis {

namespace {

using Clock = std::chrono::steady_clock;

const char* stateName(Connection::State s) {
  switch (s) {
    case Connection::State::kIdle:
      return "idle";
    case Connection::State::kConnecting:
      return "connecting";
    case Connection::State::kHandshake:
      return "handshake";
    case Connection::State::kReady:
      return "ready";
    case Connection::State::kBackoff:
      return "backoff";
    case Connection::State::kStopped:
      return "stopped";
  }
  return "?";
}

// Runs `f`, logging instead of propagating: no exception may cross hiredis or libevent (C code).
template <class F>
void guarded(const char* what, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("redis: {} threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("redis: {} threw a non-exception", what);
  }
}

// A caller's callback that throws must not keep the other callbacks of a batch from running.
void invokeSafely(const ReplyCallback& cb, ReplyResult result) noexcept {
  guarded("reply callback", [&] {
    if (cb) cb(std::move(result));
  });
}

}  // namespace

// Everything lives on the owning worker's thread; no locking anywhere. Members are public: the
// class is private to this file and Connection is its only user.
class Connection::Impl {
 public:
  // One command handed to hiredis. Owned by hiredis (as privdata) from a successful
  // redisAsyncFormattedCommand until onReplyThunk takes it back into a unique_ptr.
  struct Pending {
    Impl* owner = nullptr;  // null once detached: its outcome was already reported, just free it
    ReplyCallback cb;
    Clock::time_point sent;
    bool user = true;  // a caller's command (stats, round trip) rather than a handshake step
    // Only for evalScript: what an EVAL retry after NOSCRIPT needs.
    const ScriptRegistry::Script* script = nullptr;
    std::vector<std::string> argv;
  };

  Impl(event_base* base, Endpoint endpoint, const ScriptRegistry& scripts,
       ConnectionOptions options);
  ~Impl();

  void start();
  void stop();
  void command(std::vector<std::string> argv, ReplyCallback cb);
  void evalScript(std::string_view name, std::vector<std::string> keys,
                  std::vector<std::string> args, ReplyCallback cb);

  static void onReplyThunk(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
  static void onConnectThunk(const redisAsyncContext* ac, int status) noexcept;
  static void onDisconnectThunk(const redisAsyncContext* ac, int status) noexcept;
  static void onConnectTimerThunk(evutil_socket_t, short, void* arg) noexcept;
  static void onCommandTimerThunk(evutil_socket_t, short, void* arg) noexcept;
  static void onReconnectTimerThunk(evutil_socket_t, short, void* arg) noexcept;
  static void onDropTimerThunk(evutil_socket_t, short, void* arg) noexcept;
  static void onDeferredThunk(evutil_socket_t, short, void* arg) noexcept;

  void onReply(std::unique_ptr<Pending> p, redisReply* reply);
  void onConnected();
  void onHandshakeStep(uint64_t gen, const char* step, const std::string& expect, ReplyResult r);
  void onCommandTimer();
  void runDeferred();

  void connect();
  void sendHandshake();
  bool send(std::unique_ptr<Pending>& p, const std::vector<std::string>& argv);
  bool admit(ReplyCallback& cb);
  void failLater(ReplyCallback cb, Errc code, std::string message);
  std::vector<ReplyCallback> detachInFlight();
  void dropLink(Errc code, const std::string& why);
  void linkLost(Errc code, const std::string& why);
  void leaveLink(std::vector<ReplyCallback> cbs, Errc code, const std::string& why, State next);
  void scheduleReconnect();
  void armCommandTimer();

  event_base* base_;
  Endpoint endpoint_;
  const ScriptRegistry& scripts_;
  ConnectionOptions options_;

  State state_ = State::kIdle;
  ConnectionStats stats_;
  std::function<void(bool)> on_ready_change_;
  std::function<void(double)> on_round_trip_;

  // The live hiredis context, or null. Invariant: ac_->data == this while ac_ is set; whenever
  // we let go of a context (we drop it, or hiredis frees it) its data is cleared first, so late
  // hiredis callbacks for it never reach this object.
  redisAsyncContext* ac_ = nullptr;
  // Commands handed to hiredis on ac_, oldest first (replies come in order). Non-owning: hiredis
  // owns each through its privdata until the reply callback takes it back.
  std::deque<Pending*> in_flight_;
  uint64_t link_gen_ = 0;  // bumped whenever a link ends; late handshake steps check it
  size_t handshake_left_ = 0;
  bool connected_once_ = false;
  int attempt_ = 0;          // consecutive failed attempts, for the backoff
  std::string drop_reason_;  // for drop_timer_

  event* connect_timer_ = nullptr;
  event* command_timer_ = nullptr;
  event* reconnect_timer_ = nullptr;
  event* drop_timer_ = nullptr;  // drops the link from outside hiredis' connect callback
  event* deferred_ev_ = nullptr;
  // Callbacks of commands that failed fast: run on the next loop turn, never inside the call
  // that issued them.
  std::deque<std::pair<ReplyCallback, RedisError>> deferred_;
  std::mt19937_64 rng_{std::random_device{}()};
};

// --- construction -------------------------------------------------------------------------

Connection::Impl::Impl(event_base* base, Endpoint endpoint, const ScriptRegistry& scripts,
                       ConnectionOptions options)
    : base_(base), endpoint_(std::move(endpoint)), scripts_(scripts), options_(options) {
  connect_timer_ = evtimer_new(base_, &Impl::onConnectTimerThunk, this);
  command_timer_ = evtimer_new(base_, &Impl::onCommandTimerThunk, this);
  reconnect_timer_ = evtimer_new(base_, &Impl::onReconnectTimerThunk, this);
  drop_timer_ = evtimer_new(base_, &Impl::onDropTimerThunk, this);
  deferred_ev_ = event_new(base_, -1, 0, &Impl::onDeferredThunk, this);
}

Connection::Impl::~Impl() {
  // stop() has run (Connection's destructor); nothing of hiredis points here any more.
  event_free(connect_timer_);
  event_free(command_timer_);
  event_free(reconnect_timer_);
  event_free(drop_timer_);
  event_free(deferred_ev_);
}

void Connection::Impl::start() {
  if (state_ != State::kIdle) return;
  connect();
}

// --- trampolines: noexcept, they catch and log ---------------------------------------------

void Connection::Impl::onReplyThunk(redisAsyncContext*, void* reply, void* privdata) noexcept {
  // Take ownership back first: whatever happens below, the Pending is freed exactly once.
  std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
  if (p == nullptr || p->owner == nullptr) return;  // detached: already reported
  guarded("reply", [&] {
    Impl* self = p->owner;
    self->onReply(std::move(p), static_cast<redisReply*>(reply));
  });
}

void Connection::Impl::onConnectThunk(const redisAsyncContext* ac, int status) noexcept {
  auto* self = static_cast<Impl*>(ac->data);
  if (self == nullptr) return;
  guarded("connect callback", [&] {
    if (status == REDIS_OK) {
      self->onConnected();
      return;
    }
    // hiredis frees the context as soon as we return: forget it (never touch it again) and
    // reconnect from a timer. Nothing was sent on it, so nothing is in flight.
    std::string why = ac->errstr != nullptr ? ac->errstr : "connect failed";
    self->ac_ = nullptr;
    self->leaveLink({}, Errc::kUnavailable,
                    "connect to " + self->endpoint_.describe() + " failed: " + why,
                    State::kBackoff);
  });
}

void Connection::Impl::onDisconnectThunk(const redisAsyncContext* ac, int) noexcept {
  // Reached only when hiredis itself gave up a link with nothing in flight: in-flight commands
  // are called back first (NULL reply), and the first of those already cleared ac->data.
  auto* self = static_cast<Impl*>(ac->data);
  if (self == nullptr) return;
  guarded("disconnect callback", [&] {
    std::string why = ac->err != 0 && ac->errstr != nullptr ? ac->errstr : "closed";
    self->linkLost(Errc::kDisconnected, "link to " + self->endpoint_.describe() + " lost: " + why);
  });
}

void Connection::Impl::onConnectTimerThunk(evutil_socket_t, short, void* arg) noexcept {
  guarded("connect timer", [&] {
    auto* self = static_cast<Impl*>(arg);
    if (self->state_ != State::kConnecting || self->ac_ == nullptr) return;
    self->dropLink(Errc::kUnavailable,
                   "connect to " + self->endpoint_.describe() + " timed out after " +
                       std::to_string(self->options_.connect_timeout_ms) + " ms");
  });
}

void Connection::Impl::onCommandTimerThunk(evutil_socket_t, short, void* arg) noexcept {
  guarded("command timer", [&] { static_cast<Impl*>(arg)->onCommandTimer(); });
}

void Connection::Impl::onReconnectTimerThunk(evutil_socket_t, short, void* arg) noexcept {
  guarded("reconnect timer", [&] {
    auto* self = static_cast<Impl*>(arg);
    if (self->state_ == State::kBackoff) self->connect();
  });
}

void Connection::Impl::onDropTimerThunk(evutil_socket_t, short, void* arg) noexcept {
  guarded("drop timer", [&] {
    auto* self = static_cast<Impl*>(arg);
    self->dropLink(Errc::kUnavailable, self->drop_reason_);
  });
}

void Connection::Impl::onDeferredThunk(evutil_socket_t, short, void* arg) noexcept {
  guarded("deferred callbacks", [&] { static_cast<Impl*>(arg)->runDeferred(); });
}

// --- connecting -----------------------------------------------------------------------------

void Connection::Impl::connect() {
  state_ = State::kConnecting;
  std::string error;
  redisAsyncContext* ac = openAsyncLink(base_, endpoint_, this, &Impl::onConnectThunk,
                                        &Impl::onDisconnectThunk, &error);
  if (ac == nullptr) {
    leaveLink({}, Errc::kUnavailable, error, State::kBackoff);
    return;
  }
  ac_ = ac;
  timeval tv = toTimeval(options_.connect_timeout_ms);
  evtimer_add(connect_timer_, &tv);
}

// Called from hiredis' connect callback: the context must not be freed here (0.14 does not
// guard this callback); handshake commands may be queued, and any failure to queue them is
// handled from a timer.
void Connection::Impl::onConnected() {
  evtimer_del(connect_timer_);
  if (connected_once_) ++stats_.reconnects;
  connected_once_ = true;
  state_ = State::kHandshake;
  sendHandshake();
}

// PING (and SELECT), then SCRIPT LOAD of every script, pipelined. Ready only when all succeed:
// -LOADING or -READONLY (a replica) means not ready, and the link is retried after a backoff.
void Connection::Impl::sendHandshake() {
  struct Step {
    const char* name;
    std::vector<std::string> argv;
    std::string expect;  // the reply text that proves success; empty: any non-error
  };
  std::vector<Step> steps;
  steps.push_back({"PING", {"PING"}, "PONG"});
  if (endpoint_.db != 0) steps.push_back({"SELECT", {"SELECT", std::to_string(endpoint_.db)}, ""});
  for (const auto& s : scripts_.all()) {
    steps.push_back({"SCRIPT LOAD", {"SCRIPT", "LOAD", s.source}, s.sha1});
  }
  handshake_left_ = steps.size();
  uint64_t gen = link_gen_;
  for (auto& step : steps) {
    auto p = std::make_unique<Pending>();
    p->owner = this;
    p->user = false;
    p->sent = Clock::now();
    p->cb = [this, gen, name = step.name, expect = step.expect](ReplyResult r) {
      onHandshakeStep(gen, name, expect, std::move(r));
    };
    if (!send(p, step.argv)) {
      // The context must not be freed inside the connect callback: drop it from a timer.
      drop_reason_ = "cannot queue the handshake on " + endpoint_.describe();
      timeval zero{0, 0};
      evtimer_add(drop_timer_, &zero);
      return;
    }
  }
}

void Connection::Impl::onHandshakeStep(uint64_t gen, const char* step, const std::string& expect,
                                       ReplyResult r) {
  if (gen != link_gen_ || state_ != State::kHandshake) return;  // that link is gone already
  if (!r.ok()) {
    dropLink(Errc::kUnavailable, std::string(step) + " failed: " + r.error().message);
    return;
  }
  if (!expect.empty() && r->text() != expect) {
    // A SHA mismatch means our SHA1 and Redis' disagree: EVALSHA would always miss. Still
    // usable (every call falls back to EVAL), so only complain.
    spdlog::error("redis: {} on {} answered '{}', expected '{}'", step, endpoint_.describe(),
                  r->text(), expect);
  }
  if (--handshake_left_ > 0) return;
  state_ = State::kReady;
  attempt_ = 0;
  spdlog::info("redis: ready on {}", endpoint_.describe());
  if (auto cb = on_ready_change_) cb(true);
}

// --- sending and replies -------------------------------------------------------------------

// Hands `p` to hiredis. On success hiredis owns it (released from `p`), else `p` still does.
// The command is laid out in RESP here, in one buffer sized up front: hiredis' own formatter
// (sdscatfmt per argument) took 7 % of the node's instructions per request.
bool Connection::Impl::send(std::unique_ptr<Pending>& p, const std::vector<std::string>& argv) {
  if (ac_ == nullptr) return false;
  size_t size = 16;
  for (const auto& a : argv) size += a.size() + 24;
  std::string cmd;
  cmd.reserve(size);
  auto header = [&cmd](char type, size_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    cmd.push_back(type);
    cmd.append(digits, end);
    cmd.append("\r\n", 2);
  };
  header('*', argv.size());
  for (const auto& a : argv) {
    header('$', a.size());
    cmd.append(a);
    cmd.append("\r\n", 2);
  }
  if (redisAsyncFormattedCommand(ac_, &Impl::onReplyThunk, p.get(), cmd.data(), cmd.size()) !=
      REDIS_OK) {
    return false;
  }
  in_flight_.push_back(p.release());
  armCommandTimer();
  return true;
}

// Fails `cb` fast (on the next loop turn) unless the link is ready and below the in-flight cap.
// Returns true when the command may be sent.
bool Connection::Impl::admit(ReplyCallback& cb) {
  if (state_ != State::kReady) {
    failLater(std::move(cb), Errc::kUnavailable,
              std::string("redis not ready (") + stateName(state_) + ")");
    return false;
  }
  if (in_flight_.size() >= options_.max_in_flight) {
    failLater(std::move(cb), Errc::kUnavailable,
              "redis in-flight cap reached (" + std::to_string(options_.max_in_flight) + ")");
    return false;
  }
  return true;
}

void Connection::Impl::command(std::vector<std::string> argv, ReplyCallback cb) {
  if (!admit(cb)) return;
  auto p = std::make_unique<Pending>();
  p->owner = this;
  p->cb = std::move(cb);
  p->sent = Clock::now();
  ++stats_.commands;
  if (!send(p, argv)) {
    failLater(std::move(p->cb), Errc::kUnavailable, "redis refused the command (link closing)");
  }
}

void Connection::Impl::evalScript(std::string_view name, std::vector<std::string> keys,
                                  std::vector<std::string> args, ReplyCallback cb) {
  const ScriptRegistry::Script* script = scripts_.find(name);
  if (script == nullptr) {
    failLater(std::move(cb), Errc::kServer, "unknown script '" + std::string(name) + "'");
    return;
  }
  if (!admit(cb)) return;
  auto p = std::make_unique<Pending>();
  p->owner = this;
  p->cb = std::move(cb);
  p->sent = Clock::now();
  // Kept for a NOSCRIPT retry, which swaps argv[0..1] for EVAL and the source.
  p->script = script;
  p->argv.reserve(3 + keys.size() + args.size());
  p->argv.push_back("EVALSHA");
  p->argv.push_back(script->sha1);
  p->argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) p->argv.push_back(std::move(k));
  for (auto& a : args) p->argv.push_back(std::move(a));
  ++stats_.commands;
  // hiredis formats (copies) argv inside send(), before p may be released.
  const std::vector<std::string>& argv = p->argv;
  if (!send(p, argv)) {
    failLater(std::move(p->cb), Errc::kUnavailable, "redis refused the command (link closing)");
  }
}

// Runs inside hiredis' reply callback. `reply` is NULL when hiredis is freeing the context (the
// link died): then every other in-flight command gets the same news right after.
void Connection::Impl::onReply(std::unique_ptr<Pending> p, redisReply* reply) {
  // Replies come in order, so `p` is the oldest in flight.
  if (!in_flight_.empty() && in_flight_.front() == p.get()) {
    in_flight_.pop_front();
  } else {
    auto it = std::find(in_flight_.begin(), in_flight_.end(), p.get());
    if (it != in_flight_.end()) in_flight_.erase(it);
    spdlog::error("redis: reply out of order on {}", endpoint_.describe());
  }

  if (reply == nullptr) {
    // hiredis is freeing the link (it always is when it passes NULL). Put `p` back at the front
    // so linkLost reports it, first, with the others.
    if (ac_ != nullptr) {
      in_flight_.push_front(p.get());
      linkLost(Errc::kDisconnected,
               "link to " + endpoint_.describe() + " lost with commands in flight");
      return;  // p (now detached) is freed on return; `this` may be gone, don't touch it
    }
    if (p->user) ++stats_.failures;
    ReplyCallback cb = std::move(p->cb);
    p.reset();
    invokeSafely(cb, fail(RedisError{Errc::kDisconnected, "link lost"}));
    return;
  }

  ReplyResult result = copyReply(*reply);
  if (p->user && on_round_trip_) {
    on_round_trip_(std::chrono::duration<double>(Clock::now() - p->sent).count());
  }
  // EVALSHA of a script Redis does not have (SCRIPT FLUSH, a restart we raced, a failover):
  // retry once with EVAL, which also loads it.
  if (p->script != nullptr && p->argv[0] == "EVALSHA" && !result.ok() &&
      result.error().code == Errc::kServer && result.error().message.rfind("NOSCRIPT", 0) == 0) {
    p->argv[0] = "EVAL";
    p->argv[1] = p->script->source;
    p->sent = Clock::now();
    ++stats_.commands;
    const std::vector<std::string>& argv = p->argv;
    if (send(p, argv)) return;
    result = fail(RedisError{Errc::kUnavailable, "cannot send EVAL retry (link closing)"});
  }
  if (!result.ok() && p->user) ++stats_.failures;
  ReplyCallback cb = std::move(p->cb);
  p.reset();
  invokeSafely(cb, std::move(result));  // last: the callback may stop or destroy us
}

void Connection::Impl::failLater(ReplyCallback cb, Errc code, std::string message) {
  ++stats_.failures;
  deferred_.emplace_back(std::move(cb), RedisError{code, std::move(message)});
  event_active(deferred_ev_, EV_TIMEOUT, 0);
}

void Connection::Impl::runDeferred() {
  // Swap out first: callbacks may issue commands that fail fast again (those wait for the next
  // turn) or even destroy this object, so touch nothing of it after the loop starts.
  auto batch = std::move(deferred_);
  deferred_.clear();
  for (auto& [cb, err] : batch) invokeSafely(cb, fail(std::move(err)));
}

// --- timeouts, link loss, backoff ------------------------------------------------------------

void Connection::Impl::armCommandTimer() {
  if (in_flight_.empty() || evtimer_pending(command_timer_, nullptr)) return;
  timeval tv = toTimeval(options_.command_timeout_ms);
  evtimer_add(command_timer_, &tv);
}

// Checks the oldest in-flight command (replies come in order: if it is late, the link is
// stalled) and re-arms for the time it has left.
void Connection::Impl::onCommandTimer() {
  if (in_flight_.empty() || ac_ == nullptr) return;
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                      in_flight_.front()->sent);
  auto limit = std::chrono::milliseconds(options_.command_timeout_ms);
  if (waited >= limit) {
    dropLink(Errc::kTimeout, "no reply from " + endpoint_.describe() + " within " +
                                 std::to_string(options_.command_timeout_ms) +
                                 " ms: dropping the stalled link");
    return;
  }
  timeval tv = toTimeval((limit - waited).count());
  evtimer_add(command_timer_, &tv);
}

// Detaches every in-flight command: each stays alive in hiredis (which still calls back once,
// and the thunk then just frees it), but reporting its outcome is now up to us.
std::vector<ReplyCallback> Connection::Impl::detachInFlight() {
  std::vector<ReplyCallback> cbs;
  cbs.reserve(in_flight_.size());
  for (Pending* p : in_flight_) {
    p->owner = nullptr;
    if (!p->user) continue;  // a handshake step: the link it belonged to is over, nothing to say
    ++stats_.failures;
    cbs.push_back(std::move(p->cb));
  }
  in_flight_.clear();
  return cbs;
}

// We give up the link (stall, connect timeout, failed handshake). Safe from timers and from
// reply callbacks (hiredis then defers the free until the callback returns); never called from
// the connect or disconnect callback, where hiredis 0.14 would use the context after we free it.
void Connection::Impl::dropLink(Errc code, const std::string& why) {
  if (ac_ == nullptr) return;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  ac->data = nullptr;  // its disconnect callback must not reach us
  auto cbs = detachInFlight();
  redisAsyncFree(ac);  // calls back only into detached Pendings
  leaveLink(std::move(cbs), code, why, State::kBackoff);
}

// hiredis gave up the link itself and is freeing the context right now: we must not free it,
// only forget it.
void Connection::Impl::linkLost(Errc code, const std::string& why) {
  if (ac_ == nullptr) return;
  ac_->data = nullptr;
  ac_ = nullptr;
  auto cbs = detachInFlight();
  leaveLink(std::move(cbs), code, why, State::kBackoff);
}

// The link is gone (ac_ already null). Moves to `next` (kBackoff schedules a reconnect), tells
// the owner readiness is lost, then fails the detached callbacks. Those run last and touch only
// locals: they may stop or even destroy this object.
void Connection::Impl::leaveLink(std::vector<ReplyCallback> cbs, Errc code, const std::string& why,
                                 State next) {
  bool was_ready = state_ == State::kReady;
  ++link_gen_;
  evtimer_del(connect_timer_);
  evtimer_del(command_timer_);
  evtimer_del(drop_timer_);
  if (state_ == State::kStopped) next = State::kStopped;
  state_ = next;
  if (next == State::kBackoff) {
    // Loud once per outage, quiet while retrying (every backoff_max_ms while Redis is down).
    spdlog::log(attempt_ == 0 ? spdlog::level::warn : spdlog::level::debug, "redis: {}", why);
    scheduleReconnect();
  }
  std::function<void(bool)> on_ready = was_ready ? on_ready_change_ : nullptr;
  std::string message = why;
  if (on_ready) on_ready(false);
  for (auto& cb : cbs) invokeSafely(cb, fail(RedisError{code, message}));
}

// Capped exponential backoff with full jitter (redis/link.h).
void Connection::Impl::scheduleReconnect() {
  timeval tv = toTimeval(
      backoffDelayMs(attempt_++, options_.backoff_min_ms, options_.backoff_max_ms, rng_));
  evtimer_add(reconnect_timer_, &tv);
}

// Fails everything in flight and everything deferred with kUnavailable; afterwards no hiredis or
// libevent callback reaches this object, so it may be destroyed.
void Connection::Impl::stop() {
  if (state_ == State::kStopped) return;
  evtimer_del(reconnect_timer_);
  std::vector<ReplyCallback> cbs;
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    cbs = detachInFlight();
    redisAsyncFree(ac);  // deferred by hiredis if we are inside one of its reply callbacks
  }
  auto deferred = std::move(deferred_);
  deferred_.clear();
  event_del(deferred_ev_);
  leaveLink(std::move(cbs), Errc::kUnavailable, "connection stopped", State::kStopped);
  for (auto& [cb, err] : deferred) invokeSafely(cb, fail(std::move(err)));
}

// --- Connection -----------------------------------------------------------------------------

Connection::Connection(event_base* base, Endpoint endpoint, const ScriptRegistry& scripts,
                       ConnectionOptions options)
    : impl_(std::make_unique<Impl>(base, std::move(endpoint), scripts, options)) {}

Connection::~Connection() {
  // The owner is going away: no readiness notifications into it any more; callers of in-flight
  // commands still hear kUnavailable.
  impl_->on_ready_change_ = nullptr;
  impl_->on_round_trip_ = nullptr;
  impl_->stop();
}

void Connection::start() { impl_->start(); }
void Connection::stop() { impl_->stop(); }

void Connection::command(std::vector<std::string> argv, ReplyCallback cb) {
  impl_->command(std::move(argv), std::move(cb));
}

void Connection::evalScript(std::string_view name, std::vector<std::string> keys,
                            std::vector<std::string> args, ReplyCallback cb) {
  impl_->evalScript(name, std::move(keys), std::move(args), std::move(cb));
}

bool Connection::ready() const { return impl_->state_ == State::kReady; }
Connection::State Connection::state() const { return impl_->state_; }
size_t Connection::inFlight() const { return impl_->in_flight_.size(); }
const ConnectionStats& Connection::stats() const { return impl_->stats_; }

void Connection::setOnReadyChange(std::function<void(bool ready)> cb) {
  impl_->on_ready_change_ = std::move(cb);
}

void Connection::setOnRoundTrip(std::function<void(double seconds)> cb) {
  impl_->on_round_trip_ = std::move(cb);
}

}  // namespace courier::redis
