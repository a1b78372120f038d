#include "courier/redis/subscriber.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "courier/redis/link.h"

namespace courier::redis {

namespace {

// Runs `f`, logging instead of propagating: no exception may cross hiredis or libevent (C code).
template <class F>
void guarded(const char* what, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("redis subscriber: {} threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("redis subscriber: {} threw a non-exception", what);
  }
}

std::string_view str(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return {r->str, r->len};
}

}  // namespace

// Lives on the owning worker's thread. This object is the privdata of every SUBSCRIBE (hiredis
// 0.14 calls subscription callbacks per channel and per message, not once per command), and it
// finds itself through ac->data, which is cleared whenever we let go of a context — so a late
// callback of a context being freed never reaches it.
class Subscriber::Impl {
 public:
  enum class State { kIdle, kConnecting, kConnected, kBackoff, kStopped };

  // Per channel, what the server has (or will have, once in-flight commands are answered).
  // Invariant: never a SUBSCRIBE and an UNSUBSCRIBE of one channel in flight at once — hiredis
  // 0.14 keeps one callback per channel, and an UNSUBSCRIBE ack would delete the entry a later
  // SUBSCRIBE registered, losing the channel. A change of mind waits for the pending ack.
  struct Channel {
    enum class Sub {
      kNone,           // nothing on the server, nothing in flight (e.g. after a reconnect)
      kSubscribing,    // SUBSCRIBE in flight
      kSubscribed,     // acknowledged
      kUnsubscribing,  // UNSUBSCRIBE in flight
    };
    Sub sub = Sub::kNone;
    bool wanted = false;  // what the owner asked for; acted upon as acks arrive
  };

  Impl(event_base* base, Endpoint endpoint, Client& publisher, std::string probe_channel,
       SubscriberOptions options);
  ~Impl();

  void start();
  void stop();
  void subscribe(const std::string& channel);
  void unsubscribe(const std::string& channel);

  static void onConnectThunk(const redisAsyncContext* ac, int status) noexcept;
  static void onDisconnectThunk(const redisAsyncContext* ac, int status) noexcept;
  static void onSubReplyThunk(redisAsyncContext* ac, void* reply, void* privdata) noexcept;

  void connect();
  void onConnected();
  void onSubReply(const redisReply& reply);
  void onSubscribeAck(const std::string& channel);
  void onUnsubscribeAck(const std::string& channel);
  void onProbeTick();
  void onProbePublished(const std::string& nonce, const ReplyResult& result);
  bool send(const std::vector<std::string>& argv);
  void dropLink(const std::string& why);
  void linkLost(const std::string& why);
  void leaveLink(const std::string& why);
  void scheduleReconnect();

  event_base* base_;
  Endpoint endpoint_;
  Client& publisher_;
  std::string probe_channel_;
  SubscriberOptions options_;
  Handler* handler_ = nullptr;

  State state_ = State::kIdle;
  redisAsyncContext* ac_ = nullptr;  // invariant: ac_->data == this while set
  std::unordered_map<std::string, Channel> channels_;
  uint64_t reconnects_ = 0;
  bool connected_once_ = false;
  int attempt_ = 0;

  std::string probe_nonce_;  // the probe in flight, empty if none
  uint64_t probe_seq_ = 0;
  // Reset to null by the destructor: PUBLISH callbacks on the (longer-lived) publisher hold a
  // copy and so can tell that this object is gone.
  std::shared_ptr<Impl*> alive_;

  event* connect_timer_ = nullptr;
  event* reconnect_timer_ = nullptr;
  event* probe_timer_ = nullptr;     // persistent, every probe_interval_ms
  event* probe_deadline_ = nullptr;  // probe_timeout_ms after a probe was published
  event* drop_timer_ = nullptr;      // drops the link from outside hiredis' connect callback
  std::mt19937_64 rng_{std::random_device{}()};
};

// --- construction -------------------------------------------------------------------------

Subscriber::Impl::Impl(event_base* base, Endpoint endpoint, Client& publisher,
                       std::string probe_channel, SubscriberOptions options)
    : base_(base),
      endpoint_(std::move(endpoint)),
      publisher_(publisher),
      probe_channel_(std::move(probe_channel)),
      options_(options),
      alive_(std::make_shared<Impl*>(this)) {
  auto timer = [this](auto fn, short flags = 0) { return event_new(base_, -1, flags, fn, this); };
  connect_timer_ = timer([](evutil_socket_t, short, void* arg) noexcept {
    guarded("connect timer", [&] {
      auto* self = static_cast<Impl*>(arg);
      if (self->state_ == State::kConnecting && self->ac_ != nullptr) {
        self->dropLink("connect to " + self->endpoint_.describe() + " timed out after " +
                       std::to_string(self->options_.connect_timeout_ms) + " ms");
      }
    });
  });
  reconnect_timer_ = timer([](evutil_socket_t, short, void* arg) noexcept {
    guarded("reconnect timer", [&] {
      auto* self = static_cast<Impl*>(arg);
      if (self->state_ == State::kBackoff) self->connect();
    });
  });
  probe_timer_ = timer(
      [](evutil_socket_t, short, void* arg) noexcept {
        guarded("probe timer", [&] { static_cast<Impl*>(arg)->onProbeTick(); });
      },
      EV_PERSIST);
  probe_deadline_ = timer([](evutil_socket_t, short, void* arg) noexcept {
    guarded("probe deadline", [&] {
      auto* self = static_cast<Impl*>(arg);
      if (self->probe_nonce_.empty() || self->ac_ == nullptr) return;
      self->dropLink("probe on '" + self->probe_channel_ + "' not received within " +
                     std::to_string(self->options_.probe_timeout_ms) +
                     " ms: rebuilding the subscriber link");
    });
  });
  drop_timer_ = timer([](evutil_socket_t, short, void* arg) noexcept {
    guarded("drop timer",
            [&] { static_cast<Impl*>(arg)->dropLink("cannot send the initial SUBSCRIBE"); });
  });
}

Subscriber::Impl::~Impl() {
  stop();
  *alive_ = nullptr;
  event_free(connect_timer_);
  event_free(reconnect_timer_);
  event_free(probe_timer_);
  event_free(probe_deadline_);
  event_free(drop_timer_);
}

void Subscriber::Impl::start() {
  if (state_ != State::kIdle) return;
  timeval tv = toTimeval(options_.probe_interval_ms);
  event_add(probe_timer_, &tv);
  connect();
}

// After stop() no hiredis or libevent callback reaches this object, and the handler hears
// nothing more (not even onReset: its owner is shutting down). Not restartable.
void Subscriber::Impl::stop() {
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  event_del(connect_timer_);
  event_del(reconnect_timer_);
  event_del(probe_timer_);
  event_del(probe_deadline_);
  event_del(drop_timer_);
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);  // deferred by hiredis if we are inside one of its callbacks
  }
  for (auto& [name, ch] : channels_) ch.sub = Channel::Sub::kNone;
}

// --- trampolines -------------------------------------------------------------------------

void Subscriber::Impl::onConnectThunk(const redisAsyncContext* ac, int status) noexcept {
  auto* self = static_cast<Impl*>(ac->data);
  if (self == nullptr) return;
  guarded("connect callback", [&] {
    if (status == REDIS_OK) {
      self->onConnected();
      return;
    }
    // hiredis frees the context as soon as we return: forget it, reconnect from a timer.
    std::string why = ac->errstr != nullptr ? ac->errstr : "connect failed";
    self->ac_ = nullptr;
    self->leaveLink("connect to " + self->endpoint_.describe() + " failed: " + why);
  });
}

void Subscriber::Impl::onDisconnectThunk(const redisAsyncContext* ac, int) noexcept {
  auto* self = static_cast<Impl*>(ac->data);
  if (self == nullptr) return;  // a context we let go of ourselves
  guarded("disconnect callback", [&] {
    std::string why = ac->err != 0 && ac->errstr != nullptr ? ac->errstr : "closed";
    self->linkLost("subscriber link to " + self->endpoint_.describe() + " lost: " + why);
  });
}

void Subscriber::Impl::onSubReplyThunk(redisAsyncContext* ac, void* reply, void*) noexcept {
  // NULL: hiredis is freeing the context and calls every channel's callback once; the
  // disconnect callback (or our own drop) handles the loss. Data null: a context we let go of.
  auto* self = static_cast<Impl*>(ac->data);
  if (self == nullptr || reply == nullptr) return;
  guarded("subscription callback",
          [&] { self->onSubReply(*static_cast<const redisReply*>(reply)); });
}

// --- connecting ---------------------------------------------------------------------------

void Subscriber::Impl::connect() {
  state_ = State::kConnecting;
  std::string error;
  redisAsyncContext* ac = openAsyncLink(base_, endpoint_, this, &Impl::onConnectThunk,
                                        &Impl::onDisconnectThunk, &error);
  if (ac == nullptr) {
    leaveLink(error);
    return;
  }
  ac_ = ac;
  timeval tv = toTimeval(options_.connect_timeout_ms);
  evtimer_add(connect_timer_, &tv);
}

// In hiredis' connect callback (must not free the context here). The probe channel goes first
// and is never unsubscribed: besides proving the link alive, it keeps the server's subscription
// count above 0, so hiredis 0.14 never leaves subscribed mode (a later ack would then assert).
void Subscriber::Impl::onConnected() {
  evtimer_del(connect_timer_);
  if (connected_once_) ++reconnects_;
  connected_once_ = true;
  state_ = State::kConnected;
  attempt_ = 0;
  std::vector<std::string> argv = {"SUBSCRIBE", probe_channel_};
  for (auto& [name, ch] : channels_) {
    if (ch.wanted && ch.sub == Channel::Sub::kNone) {
      argv.push_back(name);
      ch.sub = Channel::Sub::kSubscribing;
    }
  }
  if (!send(argv)) {
    timeval zero{0, 0};
    evtimer_add(drop_timer_, &zero);
  }
}

bool Subscriber::Impl::send(const std::vector<std::string>& argv) {
  if (ac_ == nullptr) return false;
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  // privdata is unused: the thunk finds this object through ac->data.
  return redisAsyncCommandArgv(ac_, &Impl::onSubReplyThunk, nullptr, static_cast<int>(argv.size()),
                               ptrs.data(), lens.data()) == REDIS_OK;
}

// --- subscriptions ------------------------------------------------------------------------

void Subscriber::Impl::subscribe(const std::string& channel) {
  if (channel == probe_channel_) return;  // ours; subscribed on every connect anyway
  Channel& ch = channels_[channel];
  ch.wanted = true;
  // kSubscribing/kSubscribed: nothing to do. kUnsubscribing: resubscribed when that is acked.
  if (ch.sub == Channel::Sub::kNone && state_ == State::kConnected &&
      send({"SUBSCRIBE", channel})) {
    ch.sub = Channel::Sub::kSubscribing;
  }
  // Otherwise it goes out with the SUBSCRIBE of the next connect.
}

void Subscriber::Impl::unsubscribe(const std::string& channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  Channel& ch = it->second;
  ch.wanted = false;
  switch (ch.sub) {
    case Channel::Sub::kNone:
      channels_.erase(it);
      break;
    case Channel::Sub::kSubscribed:
      if (send({"UNSUBSCRIBE", channel})) {
        ch.sub = Channel::Sub::kUnsubscribing;
      }  // else the link is closing: the channel is dropped with it
      break;
    case Channel::Sub::kSubscribing:    // unsubscribed when the ack arrives
    case Channel::Sub::kUnsubscribing:  // already on its way out
      break;
  }
}

void Subscriber::Impl::onSubReply(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 3) {
    spdlog::warn("redis subscriber: unexpected reply type {} on {}", reply.type,
                 endpoint_.describe());
    return;
  }
  std::string_view kind = str(reply.element[0]);
  std::string channel(str(reply.element[1]));
  if (kind == "message") {
    std::string_view payload = str(reply.element[2]);
    if (channel == probe_channel_) {
      if (!probe_nonce_.empty() && payload == probe_nonce_) {
        probe_nonce_.clear();  // the link works
        evtimer_del(probe_deadline_);
      }
      return;
    }
    auto it = channels_.find(channel);
    if (it != channels_.end() && it->second.wanted && handler_ != nullptr) {
      handler_->onMessage(channel, payload);
    }
  } else if (kind == "subscribe") {
    onSubscribeAck(channel);
  } else if (kind == "unsubscribe") {
    onUnsubscribeAck(channel);
  }
}

void Subscriber::Impl::onSubscribeAck(const std::string& channel) {
  if (channel == probe_channel_) return;
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.sub != Channel::Sub::kSubscribing) {
    spdlog::warn("redis subscriber: unexpected subscribe ack for '{}'", channel);
    return;
  }
  Channel& ch = it->second;
  if (!ch.wanted) {
    // Unwanted while the SUBSCRIBE was in flight: now it may be unsubscribed.
    if (send({"UNSUBSCRIBE", channel})) {
      ch.sub = Channel::Sub::kUnsubscribing;
    } else {
      channels_.erase(it);  // the link is closing: gone with it
    }
    return;
  }
  ch.sub = Channel::Sub::kSubscribed;
  if (handler_ != nullptr) handler_->onSubscribed(channel);  // last: may (un)subscribe
}

void Subscriber::Impl::onUnsubscribeAck(const std::string& channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.sub != Channel::Sub::kUnsubscribing) {
    spdlog::warn("redis subscriber: unexpected unsubscribe ack for '{}'", channel);
    return;
  }
  Channel& ch = it->second;
  if (!ch.wanted) {
    channels_.erase(it);
    return;
  }
  // Wanted again while the UNSUBSCRIBE was in flight: only now may it be subscribed again.
  ch.sub = send({"SUBSCRIBE", channel}) ? Channel::Sub::kSubscribing : Channel::Sub::kNone;
}

// --- probe --------------------------------------------------------------------------------

// PUBLISHes a fresh nonce on the probe channel through the command connection. If the link is
// silently dead (a middlebox dropped it, the server lost our subscription), the nonce never
// comes back and the deadline rebuilds the link. No probe while the publisher is not ready:
// its failure would say nothing about this link.
void Subscriber::Impl::onProbeTick() {
  if (state_ != State::kConnected || !probe_nonce_.empty() || !publisher_.ready()) return;
  probe_nonce_ = std::to_string(++probe_seq_) + "-" + std::to_string(rng_());
  timeval tv = toTimeval(options_.probe_timeout_ms);
  evtimer_add(probe_deadline_, &tv);
  publisher_.command({"PUBLISH", probe_channel_, probe_nonce_},
                     [alive = alive_, nonce = probe_nonce_](ReplyResult r) {
                       if (*alive != nullptr) (*alive)->onProbePublished(nonce, r);
                     });
}

void Subscriber::Impl::onProbePublished(const std::string& nonce, const ReplyResult& result) {
  if (result.ok() || probe_nonce_ != nonce) return;
  // The PUBLISH itself failed (command link down or stalled): no verdict on this link. Forget
  // this probe; a later tick sends another.
  probe_nonce_.clear();
  evtimer_del(probe_deadline_);
}

// --- link loss ----------------------------------------------------------------------------

// We give up the link (connect timeout, probe lost). From timers only.
void Subscriber::Impl::dropLink(const std::string& why) {
  if (ac_ == nullptr) return;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  ac->data = nullptr;  // its callbacks (NULL replies, disconnect) must not reach us
  redisAsyncFree(ac);
  leaveLink(why);
}

// hiredis gave up the link and is freeing the context right now: only forget it.
void Subscriber::Impl::linkLost(const std::string& why) {
  if (ac_ == nullptr) return;
  ac_->data = nullptr;
  ac_ = nullptr;
  leaveLink(why);
}

// The link is gone (ac_ null). Every wanted channel becomes "wanted, not acknowledged" (sent
// again with the next connect's SUBSCRIBE), unwanted ones are forgotten, and the handler hears
// onReset — last, as it may call back into us.
void Subscriber::Impl::leaveLink(const std::string& why) {
  bool was_connected = state_ == State::kConnected;
  evtimer_del(connect_timer_);
  evtimer_del(probe_deadline_);
  evtimer_del(drop_timer_);
  probe_nonce_.clear();
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (!it->second.wanted) {
      it = channels_.erase(it);
    } else {
      it->second.sub = Channel::Sub::kNone;
      ++it;
    }
  }
  if (state_ == State::kStopped) return;
  // Loud once per outage, quiet while retrying.
  spdlog::log(attempt_ == 0 ? spdlog::level::warn : spdlog::level::debug, "redis subscriber: {}",
              why);
  state_ = State::kBackoff;
  scheduleReconnect();
  if (was_connected && handler_ != nullptr) handler_->onReset();
}

// Capped exponential backoff with full jitter (redis/link.h).
void Subscriber::Impl::scheduleReconnect() {
  timeval tv = toTimeval(
      backoffDelayMs(attempt_++, options_.backoff_min_ms, options_.backoff_max_ms, rng_));
  evtimer_add(reconnect_timer_, &tv);
}

// --- Subscriber ---------------------------------------------------------------------------

Subscriber::Subscriber(event_base* base, Endpoint endpoint, Client& publisher,
                       std::string probe_channel, SubscriberOptions options)
    : impl_(std::make_unique<Impl>(base, std::move(endpoint), publisher, std::move(probe_channel),
                                   options)) {}

Subscriber::~Subscriber() = default;

void Subscriber::setHandler(Handler* handler) { impl_->handler_ = handler; }
void Subscriber::start() { impl_->start(); }
void Subscriber::stop() { impl_->stop(); }
void Subscriber::subscribe(const std::string& channel) { impl_->subscribe(channel); }
void Subscriber::unsubscribe(const std::string& channel) { impl_->unsubscribe(channel); }

bool Subscriber::isSubscribed(const std::string& channel) const {
  auto it = impl_->channels_.find(channel);
  return it != impl_->channels_.end() && it->second.wanted &&
         it->second.sub == Impl::Channel::Sub::kSubscribed;
}

bool Subscriber::connected() const { return impl_->state_ == Impl::State::kConnected; }

size_t Subscriber::channelCount() const {
  return static_cast<size_t>(std::count_if(
      impl_->channels_.begin(), impl_->channels_.end(),
      [](const auto& kv) { return kv.second.sub == Impl::Channel::Sub::kSubscribed; }));
}

uint64_t Subscriber::reconnects() const { return impl_->reconnects_; }

}  // namespace courier::redis
