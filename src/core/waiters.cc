#include "courier/core/waiters.h"

#include <event2/event.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier {

namespace {

bool toInt(const rapidjson::Value& v, int64_t* out) {
  if (!v.IsString()) return false;
  const char* begin = v.GetString();
  const char* end = begin + v.GetStringLength();
  auto [p, ec] = std::from_chars(begin, end, *out);
  return ec == std::errc() && p == end && begin != end;
}

// "rec": the 11 public fields in record_reply's order (lua/lib/common.lua), all strings.
std::optional<Record> parseCarriedRecord(const rapidjson::Value& rec) {
  if (!rec.IsArray() || rec.Size() != 11) return std::nullopt;
  for (const auto& v : rec.GetArray()) {
    if (!v.IsString()) return std::nullopt;
  }
  auto text = [&](rapidjson::SizeType i) {
    return std::string(rec[i].GetString(), rec[i].GetStringLength());
  };
  Record r;
  r.id = text(0);
  r.runtime_id = text(1);
  r.kind = text(2);
  r.status = text(3);
  r.payload = text(6);
  r.result = text(7);
  r.error = text(8);
  if (!toInt(rec[4], &r.version) || !toInt(rec[5], &r.attempt) || !toInt(rec[9], &r.created_ms) ||
      !toInt(rec[10], &r.updated_ms)) {
    return std::nullopt;
  }
  return r;
}

}  // namespace

bool parseWakeEvent(std::string_view json, WakeEvent* out) {
  // Our own scripts wrote it, from stored text the node validated when it came in: parse it
  // without re-validating its UTF-8 (the hot path: every wake-up of every worker), but
  // iteratively, so no message can exhaust the stack.
  JsonArena doc_arena;
  rapidjson::Document doc(rapidjson::kNullType, &doc_arena.allocator);
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  auto str = [&](const char* name, std::string* into) {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
    into->assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  auto version = doc.FindMember("version");
  if (version == doc.MemberEnd() || !version->value.IsInt64()) return false;
  out->version = version->value.GetInt64();
  auto next = doc.FindMember("next_ms");
  out->next_ms = next != doc.MemberEnd() && next->value.IsInt64() ? next->value.GetInt64() : -1;
  if (!str("id", &out->id) || !str("kind", &out->kind) || !str("status", &out->status)) {
    return false;
  }
  out->record.reset();
  if (auto rec = doc.FindMember("rec"); rec != doc.MemberEnd()) {
    out->record = parseCarriedRecord(rec->value);
    // A carried record that disagrees with its envelope is not trusted: read instead.
    if (out->record && (out->record->id != out->id || out->record->version != out->version ||
                        out->record->status != out->status)) {
      out->record.reset();
    }
  }
  return true;
}

namespace {
constexpr int64_t kNever = INT64_MAX;
// A claim parks unread only if a claim script ran for each of its runtimes this recently: the
// script refreshes the runtime's liveness (90 s, refreshed below 60 s).
constexpr int64_t kMaxUnreadClaimMs = 10'000;
}  // namespace

struct Waiters::Entry {
  enum class State { kSubscribing, kChecking, kParked };
  Waiters* owner = nullptr;
  uint64_t id = 0;
  std::unique_ptr<Waiter> waiter;
  State state = State::kSubscribing;
  bool dirty = false;        // a wake-up arrived while a check was in flight
  bool final_check = false;  // the check in flight must answer
  // Checked before its channels were acknowledged, because the subscriber was down: it must
  // not park as if wake-ups could reach it, and is checked again once they are acknowledged.
  bool awaiting_ack = false;
  int64_t wait_until_ms = 0;  // monotonic
  int64_t timer_due_ms = 0;   // monotonic: when the armed timer fires
  event* timer = nullptr;
  // A claim's read in flight: its channels' acknowledgement counts when it started, and the
  // earliest lease the channels announced since (Channel::idle).
  std::vector<uint64_t> check_acks;
  int64_t check_seen_due_ms = kNever;
  // In its channels' waiter lists (a call with a wait): only such a claim hears, while it
  // reads, the 'pending' wake-ups that make its finding stale (dirty).
  bool registered = false;

  ~Entry() {
    if (timer != nullptr) event_free(timer);
  }
};

struct Waiters::Channel {
  // A live request as the channel's wake-ups left it: its version, and when its next deadline
  // falls (monotonic ms, -1: none).
  struct Known {
    int64_t version = 0;
    int64_t due_ms = -1;
  };
  // A runtime holds at most 1000 live requests; past this, forget and read instead.
  static constexpr size_t kMaxKnown = 4096;

  Waiters* owner = nullptr;
  std::string name;
  std::vector<uint64_t> waiters;  // in arrival order: parked claims are woken first come first
  event* linger = nullptr;
  // Learned from the wake-ups received since the subscription was last acknowledged (it is
  // cleared then, and on a reset): exact as long as the channel stays subscribed. Ended
  // requests leave it.
  std::unordered_map<std::string, Known> known;

  // True when this worker knows the runtime has nothing a claim could take: a claim read of
  // all kinds found nothing, the channel stayed subscribed, and no 'pending' wake-up came
  // since. Until idle_due_ms (monotonic; kNever: none) — the earliest lease that may lapse
  // into a redelivery. A new claim then parks without reading (Waiters::parkIdleClaim).
  bool idle = false;
  int64_t idle_due_ms = kNever;
  // When a claim script last ran for this runtime here: it is what keeps the runtime alive,
  // so claims read at least every kMaxUnreadClaimMs.
  int64_t last_read_ms = kNever;
  // Acknowledgements and resets seen: a read that spans one concludes nothing.
  uint64_t acks = 0;

  void learn(const WakeEvent& ev) {
    if (ev.terminal() || ev.next_ms < 0) {
      // Ended, or a wake-up without its deadline (from an older node): read instead.
      known.erase(ev.id);
      return;
    }
    if (known.size() >= kMaxKnown && !known.contains(ev.id)) known.clear();
    Known& k = known[ev.id];
    if (ev.version < k.version) return;
    k.version = ev.version;
    k.due_ms = monotonicMs() + ev.next_ms;
  }

  ~Channel() {
    if (linger != nullptr) event_free(linger);
  }
};

Waiters::Waiters(event_base* base, redis::Subscriber& subscriber, WaitersOptions options,
                 WorkerMetrics* metrics)
    : base_(base), subscriber_(subscriber), options_(options), metrics_(metrics) {
  deferred_ = event_new(base_, -1, 0, &Waiters::onDeferred, this);
}

Waiters::~Waiters() {
  // Waiters still here reply from their destructors (their Responders answer 500); the node
  // only gets here after shutdown() answered them, or in tests.
  entries_.clear();
  channels_.clear();
  event_free(deferred_);
}

void Waiters::add(std::unique_ptr<Waiter> waiter, int64_t wait_ms) {
  if (shutting_down_) wait_ms = 0;
  uint64_t id = next_id_++;
  auto entry = std::make_unique<Entry>();
  Entry& e = *entry;
  e.owner = this;
  e.id = id;
  e.waiter = std::move(waiter);
  e.wait_until_ms = monotonicMs() + wait_ms;
  e.timer = evtimer_new(base_, &Waiters::onTimer, &e);
  e.waiter->on_gone_ = [this, id] { onClientLeft(id); };
  if (Gauge* g = parkedGauge(*e.waiter)) g->add(1);
  entries_.emplace(id, std::move(entry));

  if (wait_ms <= 0) {
    // Nothing to wait for: no subscription, one read, one answer.
    startCheck(id, true);
    return;
  }
  if (!e.waiter->requestId().empty()) by_request_[e.waiter->requestId()].push_back(id);
  e.registered = true;
  bool all_acked = true;
  for (const auto& ch : e.waiter->channels()) {
    retain(ch, id);
    if (!subscriber_.isSubscribed(ch)) all_acked = false;
  }
  if (all_acked) {
    if (!parkKnown(e) && !parkIdleClaim(e)) startCheck(id, false);
    return;
  }
  // Wait for the acknowledgements; if they never come, the wait running out still answers.
  e.state = Entry::State::kSubscribing;
  armTimer(e, wait_ms);
  if (!subscriber_.connected()) {
    // The subscriber is down (reconnecting): acknowledgements may take a while. Read the state
    // now, so that a call whose answer already exists does not wait for them.
    e.awaiting_ack = true;
    startCheck(id, false);
  }
}

bool Waiters::parkKnown(Entry& e) {
  const std::string& rid = e.waiter->requestId();
  if (rid.empty() || e.waiter->channels().size() != 1 || !e.waiter->mayParkUnread()) {
    return false;
  }
  auto c = channels_.find(e.waiter->channels().front());
  if (c == channels_.end()) return false;
  auto k = c->second->known.find(rid);
  if (k == c->second->known.end()) return false;
  WakeEvent as_known;
  as_known.id = rid;
  as_known.status = "pending";  // live: known holds no ended request
  as_known.version = k->second.version;
  if (e.waiter->wakesOn(as_known)) return false;  // satisfied already: read it to answer
  int64_t due = k->second.due_ms;
  park(e, due < 0 ? -1 : std::max<int64_t>(0, due - monotonicMs()));
  return true;
}

bool Waiters::parkIdleClaim(Entry& e) {
  if (!e.waiter->requestId().empty() || !e.waiter->claimsEverything()) return false;
  const int64_t now = monotonicMs();
  int64_t due = kNever;
  for (const auto& name : e.waiter->channels()) {
    auto c = channels_.find(name);
    if (c == channels_.end()) return false;
    const Channel& ch = *c->second;
    if (!ch.idle || now >= ch.idle_due_ms || ch.last_read_ms == kNever ||
        now - ch.last_read_ms >= kMaxUnreadClaimMs) {
      return false;
    }
    // Read again within kMaxUnreadClaimMs of the last read, whatever the wait: the read keeps
    // the runtime alive.
    due = std::min({due, ch.idle_due_ms, ch.last_read_ms + kMaxUnreadClaimMs});
  }
  park(e, due - now);
  return true;
}

void Waiters::armTimer(Entry& e, int64_t ms) {
  ms = std::max<int64_t>(0, ms);
  e.timer_due_ms = monotonicMs() + ms;
  timeval tv{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(e.timer, &tv);
}

void Waiters::startCheck(uint64_t id, bool final) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = *it->second;
  e.state = Entry::State::kChecking;
  e.dirty = false;
  e.final_check = final;
  evtimer_del(e.timer);
  if (e.waiter->requestId().empty()) {
    // A claim read: it runs the claim script for each of its runtimes.
    const int64_t now = monotonicMs();
    e.check_acks.clear();
    e.check_seen_due_ms = kNever;
    for (const auto& name : e.waiter->channels()) {
      auto c = channels_.find(name);
      e.check_acks.push_back(c == channels_.end() ? 0 : c->second->acks);
      if (c != channels_.end()) c->second->last_read_ms = now;
    }
  }
  e.waiter->check(final, [this, id](Waiter::Outcome outcome, int64_t next_deadline_ms) {
    onChecked(id, outcome, next_deadline_ms);
  });
}

void Waiters::onChecked(uint64_t id, Waiter::Outcome outcome, int64_t next_deadline_ms) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = *it->second;
  if (outcome == Waiter::Outcome::kAnswered) {
    // A claim whose read took fewer requests than it could left nothing claimable behind.
    if (!e.dirty && e.waiter->readDrained()) noteIdle(e, next_deadline_ms);
    return finish(id);
  }
  bool over = shutting_down_ || monotonicMs() >= e.wait_until_ms;
  if (e.waiter->gone()) {
    e.waiter->onClientGone();
    return finish(id);
  }
  if (outcome == Waiter::Outcome::kUnavailable) {
    if (over || e.final_check) {
      e.waiter->abandon("store_unavailable");
      return finish(id);
    }
    // Stay parked: onStoreReady() re-checks it, or the wait runs out and it gets a 503.
    return park(e, -1);
  }
  if (e.final_check) {
    // A final check must answer; one that did not is a bug in the waiter — never hang.
    spdlog::error("{} waiter did not answer its final check", e.waiter->type());
    e.waiter->abandon("internal");
    return finish(id);
  }
  if (e.dirty) return startCheck(id, false);
  noteIdle(e, next_deadline_ms);
  if (over) return startCheck(id, true);
  if (e.awaiting_ack) {
    // Not satisfied, and no wake-up can reach it yet: back to waiting for the acknowledgements.
    e.state = Entry::State::kSubscribing;
    return armTimer(e, e.wait_until_ms - monotonicMs());
  }
  park(e, next_deadline_ms);
}

void Waiters::noteIdle(const Entry& e, int64_t next_deadline_ms) {
  // A claim read of every kind found nothing (or took fewer than it could), and no 'pending'
  // wake-up came meanwhile (the waiter would be dirty): its runtimes are idle, if their
  // channels stayed subscribed — until the earliest deadline the read or the wake-ups since
  // announced.
  if (!e.registered || !e.waiter->requestId().empty() || !e.waiter->claimsEverything() ||
      e.check_acks.size() != e.waiter->channels().size()) {
    return;
  }
  const int64_t now = monotonicMs();
  int64_t due = e.check_seen_due_ms;
  if (next_deadline_ms >= 0) due = std::min(due, now + next_deadline_ms);
  for (size_t i = 0; i < e.check_acks.size(); ++i) {
    const std::string& name = e.waiter->channels()[i];
    auto c = channels_.find(name);
    if (c == channels_.end() || c->second->acks != e.check_acks[i] ||
        !subscriber_.isSubscribed(name)) {
      continue;
    }
    c->second->idle = true;
    c->second->idle_due_ms = due;
  }
}

void Waiters::park(Entry& e, int64_t next_deadline_ms) {
  e.state = Entry::State::kParked;
  int64_t ms = std::max<int64_t>(0, e.wait_until_ms - monotonicMs());
  // Wake a little after the deadline Redis reported, so it is due when the check runs.
  constexpr int64_t kDeadlineSlackMs = 5;
  if (next_deadline_ms >= 0) ms = std::min(ms, next_deadline_ms + kDeadlineSlackMs);
  armTimer(e, ms);
}

void Waiters::onTimer(int, short, void* arg) noexcept {
  auto* e = static_cast<Entry*>(arg);
  Waiters* self = e->owner;
  try {
    bool over = self->shutting_down_ || monotonicMs() >= e->wait_until_ms;
    self->startCheck(e->id, e->state == Entry::State::kSubscribing || over);
  } catch (const std::exception& ex) {
    spdlog::error("waiter timer: {}", ex.what());
  }
}

bool Waiters::wake(Entry& e) {
  switch (e.state) {
    case Entry::State::kSubscribing:
      return true;  // it reads state once its channels are acknowledged
    case Entry::State::kChecking:
      e.dirty = true;
      return true;
    case Entry::State::kParked:
      if (e.waiter->peekGone()) {
        e.waiter->gone_ = true;
        e.waiter->onClientGone();
        finish(e.id);
        return false;
      }
      startCheck(e.id, false);
      return true;
  }
  return true;
}

std::optional<Waiters::HandoffTicket> Waiters::beginHandoff(const std::string& channel,
                                                            const std::string& kind) {
  if (shutting_down_) return std::nullopt;
  auto c = channels_.find(channel);
  if (c == channels_.end()) return std::nullopt;
  std::vector<uint64_t> ids = c->second->waiters;
  for (uint64_t id : ids) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second->state != Entry::State::kParked) continue;
    Entry& e = *it->second;
    auto spec = e.waiter->handoffFor(kind);
    if (!spec) continue;
    if (e.waiter->peekGone()) {
      e.waiter->gone_ = true;
      e.waiter->onClientGone();
      finish(id);
      continue;
    }
    e.state = Entry::State::kChecking;
    e.dirty = false;
    e.final_check = false;
    e.check_seen_due_ms = kNever;
    evtimer_del(e.timer);
    return HandoffTicket{id, std::move(*spec)};
  }
  return std::nullopt;
}

void Waiters::endHandoff(uint64_t id, std::vector<ClaimedRequest> handed) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    // A reserved claim stays until its handoff ends (nothing finishes a checking waiter).
    spdlog::error("handoff to a claim that is gone: {} request(s) wait for their lease",
                  handed.size());
    return;
  }
  Entry& e = *it->second;
  if (handed.empty()) {
    // Nothing changed for the claim unless a 'pending' wake-up came meanwhile: park it again
    // as it was, rather than let every failed or repeated create cost a claim read.
    if (e.dirty || shutting_down_ || e.waiter->gone()) return startCheck(id, false);
    e.state = Entry::State::kParked;
    // (A lease announced meanwhile may fall before its old timer.)
    return armTimer(e, std::min(e.timer_due_ms, e.check_seen_due_ms) - monotonicMs());
  }
  e.waiter->handedOff(std::move(handed),
                      [this, id](Waiter::Outcome outcome, int64_t next_deadline_ms) {
                        onChecked(id, outcome, next_deadline_ms);
                      });
}

void Waiters::onClientLeft(uint64_t id) {
  // Called from the waiter's own socket watch: handle it on the next loop turn, never delete
  // the waiter (and its watch) from inside its callback.
  gone_queue_.push_back(id);
  event_active(deferred_, EV_TIMEOUT, 0);
}

void Waiters::onDeferred(int, short, void* arg) noexcept {
  auto* self = static_cast<Waiters*>(arg);
  try {
    std::vector<uint64_t> ids;
    ids.swap(self->gone_queue_);
    for (uint64_t id : ids) {
      auto it = self->entries_.find(id);
      if (it == self->entries_.end()) continue;
      Entry& e = *it->second;
      // A check in flight finishes first: a claim that got requests must release them.
      if (e.state == Entry::State::kChecking) continue;
      e.waiter->onClientGone();
      self->finish(id);
    }
  } catch (const std::exception& ex) {
    spdlog::error("waiters deferred: {}", ex.what());
  }
}

void Waiters::finish(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  std::unique_ptr<Entry> e = std::move(it->second);
  entries_.erase(it);
  if (Gauge* g = parkedGauge(*e->waiter)) g->add(-1);
  const std::string& rid = e->waiter->requestId();
  if (!rid.empty()) {
    auto r = by_request_.find(rid);
    if (r != by_request_.end()) {
      std::erase(r->second, id);
      if (r->second.empty()) by_request_.erase(r);
    }
  }
  for (const auto& ch : e->waiter->channels()) releaseChannel(ch, id);
}

void Waiters::retain(const std::string& name, uint64_t id) {
  auto& slot = channels_[name];
  if (!slot) {
    slot = std::make_unique<Channel>();
    slot->owner = this;
    slot->name = name;
    slot->linger = evtimer_new(base_, &Waiters::onLinger, slot.get());
  }
  evtimer_del(slot->linger);
  if (std::find(slot->waiters.begin(), slot->waiters.end(), id) == slot->waiters.end()) {
    slot->waiters.push_back(id);
  }
  subscriber_.subscribe(name);
}

void Waiters::releaseChannel(const std::string& name, uint64_t id) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  Channel& ch = *it->second;
  std::erase(ch.waiters, id);
  if (ch.waiters.empty()) {
    // Linger, so a busy runtime does not pay SUBSCRIBE + UNSUBSCRIBE per long-poll.
    timeval tv{options_.linger_ms / 1000,
               static_cast<suseconds_t>((options_.linger_ms % 1000) * 1000)};
    evtimer_add(ch.linger, &tv);
  }
}

void Waiters::onLinger(int, short, void* arg) noexcept {
  auto* ch = static_cast<Channel*>(arg);
  Waiters* self = ch->owner;
  try {
    if (!ch->waiters.empty()) return;
    std::string name = ch->name;
    self->subscriber_.unsubscribe(name);
    self->channels_.erase(name);  // frees ch (and its timer, which is not running any more)
  } catch (const std::exception& ex) {
    spdlog::error("waiters linger: {}", ex.what());
  }
}

void Waiters::onSubscribed(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  // Only what arrives from now on is known to miss nothing.
  it->second->known.clear();
  it->second->idle = false;
  ++it->second->acks;
  std::vector<uint64_t> ids = it->second->waiters;
  for (uint64_t id : ids) {
    auto e = entries_.find(id);
    if (e == entries_.end()) continue;
    Entry& entry = *e->second;
    bool all = true;
    for (const auto& ch : entry.waiter->channels()) all = all && subscriber_.isSubscribed(ch);
    if (all) entry.awaiting_ack = false;
    if (entry.state == Entry::State::kSubscribing) {
      if (all) startCheck(id, false);
    } else {
      // Subscribed again after a reconnect: wake-ups may have been lost meanwhile.
      wake(entry);
    }
  }
}

void Waiters::onMessage(const std::string& name, std::string_view payload) {
  WakeEvent ev;
  if (!parseWakeEvent(payload, &ev)) {
    spdlog::warn("ignoring a malformed wake-up on {}", name);
    return;
  }
  if (auto c = channels_.find(name); c != channels_.end() && subscriber_.isSubscribed(name)) {
    c->second->learn(ev);
  }
  bool concerned = false;
  if (auto r = by_request_.find(ev.id); r != by_request_.end()) {
    std::vector<uint64_t> ids = r->second;
    for (uint64_t id : ids) {
      auto e = entries_.find(id);
      if (e == entries_.end() || !e->second->waiter->wakesOn(ev)) continue;
      // Request ids are keyed alone here: a wake-up only concerns the waiters of its own
      // channel (another workspace's runtime may share the runtime id).
      const auto& mine = e->second->waiter->channels();
      if (std::find(mine.begin(), mine.end(), name) == mine.end()) continue;
      concerned = true;
      Entry& entry = *e->second;
      // No read in flight (whose reply would reach a finished waiter): answer from the
      // record the wake-up carries, if it does and it will do.
      if (entry.state != Entry::State::kChecking && entry.waiter->answerFrom(ev)) {
        finish(id);
        continue;
      }
      wake(entry);
    }
  }
  if (ev.status == "pending") {
    // Work became claimable: wake one parked claim, and make claims in flight look again
    // (their read may have been issued before this request existed).
    auto c = channels_.find(name);
    if (c != channels_.end()) c->second->idle = false;
    if (c != channels_.end()) {
      std::vector<uint64_t> ids = c->second->waiters;
      bool woke_one = false;
      for (uint64_t id : ids) {
        auto e = entries_.find(id);
        if (e == entries_.end() || !e->second->waiter->requestId().empty()) continue;
        Entry& entry = *e->second;
        if (entry.state == Entry::State::kChecking) {
          entry.dirty = true;
          concerned = true;
        } else if (entry.state == Entry::State::kParked && !woke_one) {
          concerned = true;
          woke_one = wake(entry);  // a claim whose client left passes the wake-up on
        }
      }
    }
  } else if (ev.status == "running" && ev.next_ms >= 0) {
    // A claim elsewhere took work with a lease: parked claims here must look again when it
    // runs out (if its daemon crashed, the work is theirs), not only when their wait ends.
    auto c = channels_.find(name);
    if (c != channels_.end()) {
      int64_t due = monotonicMs() + ev.next_ms + 5;
      Channel& ch = *c->second;
      // An idle runtime stays idle only until this lease could lapse into a redelivery.
      if (ch.idle) ch.idle_due_ms = std::min(ch.idle_due_ms, due);
      for (uint64_t id : ch.waiters) {
        auto e = entries_.find(id);
        if (e == entries_.end() || !e->second->waiter->requestId().empty()) continue;
        Entry& entry = *e->second;
        if (entry.state == Entry::State::kParked && due < entry.timer_due_ms) {
          armTimer(entry, due - monotonicMs());
        }
        // A claim reading now may conclude the runtime idle: with this lease in mind.
        if (entry.state == Entry::State::kChecking) {
          entry.check_seen_due_ms = std::min(entry.check_seen_due_ms, due);
        }
      }
    }
  }
  if (concerned) {
    ++wakeups_;
    if (metrics_ != nullptr) metrics_->wakeups.inc();
  }
}

Gauge* Waiters::parkedGauge(const Waiter& w) {
  if (metrics_ == nullptr) return nullptr;
  if (w.type() == "claim") return &metrics_->parked_claims;
  if (w.type() == "get") return &metrics_->parked_gets;
  return &metrics_->parked_events;
}

void Waiters::onReset() {
  for (auto& [name, ch] : channels_) {
    ch->known.clear();
    ch->idle = false;
    ++ch->acks;
  }
  spdlog::warn("subscriber connection lost: parked calls are re-checked once resubscribed");
}

void Waiters::onStoreReady() {
  std::vector<uint64_t> ids;
  for (const auto& [id, e] : entries_) {
    if (e->state == Entry::State::kParked) ids.push_back(id);
  }
  for (uint64_t id : ids) startCheck(id, false);
}

void Waiters::shutdown() {
  shutting_down_ = true;
  std::vector<uint64_t> ids;
  for (const auto& [id, e] : entries_) {
    if (e->state != Entry::State::kChecking) ids.push_back(id);
  }
  // Checks in flight see shutting_down_ when they return and answer then.
  for (uint64_t id : ids) startCheck(id, true);
}

Waiters::Stats Waiters::stats() const {
  Stats s;
  for (const auto& [id, e] : entries_) {
    if (e->waiter->requestId().empty()) {
      ++s.parked_claims;
    } else {
      ++s.parked_gets;
    }
  }
  s.wakeups = wakeups_;
  return s;
}

}  // namespace courier
