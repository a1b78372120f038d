// GET /api/runtimes/{rt}/requests/{id}/events: Server-Sent Events. One `event: state` with the
// record at once and at every change, closed after the terminal one, a `: keep-alive` comment
// every 15 s in between. A browser's EventSource cannot set headers, so the token may also come
// as ?access_token=.
#include <event2/event.h>
#include <spdlog/spdlog.h>

#include "courier/api/body.h"
#include "courier/api/context.h"
#include "courier/api/render.h"
#include "courier/http/peer_watch.h"

namespace courier::api {
namespace {

constexpr int kKeepAliveSeconds = 15;
// A stream is closed (and the EventSource reconnects) after this long even if the request has
// not ended: no connection is held forever.
constexpr int64_t kMaxStreamMs = 3600 * 1000;

// A parked waiter that, unlike a GET, answers many times: each check sends the record if its
// version moved, and only a terminal record (or the end of the wait) finishes it.
class EventsWaiter final : public Waiter {
 public:
  EventsWaiter(Context& ctx, std::string ws, std::string rt, std::string id, int fd,
               http::Responder res)
      : ctx_(ctx),
        ws_(std::move(ws)),
        rt_(std::move(rt)),
        id_(std::move(id)),
        channels_{eventsChannel(ws_, rt_)},
        fd_(fd),
        res_(std::move(res)) {
    watch_ = std::make_unique<http::PeerWatch>(ctx_.base, fd_, [this] { clientLeft(); });
    keepalive_ = event_new(ctx_.base, -1, EV_PERSIST, &EventsWaiter::onKeepAlive, this);
  }

  ~EventsWaiter() override {
    if (keepalive_ != nullptr) event_free(keepalive_);
  }

  std::string_view type() const override { return "events"; }
  const std::vector<std::string>& channels() const override { return channels_; }
  const std::string& requestId() const override { return id_; }
  bool wakesOn(const WakeEvent& e) const override { return e.version > sent_version_; }
  bool peekGone() const override {
    // Once streaming, evhttp owns the socket (and may have closed it): ask it, not the fd.
    return started_ ? closed_ : http::PeerWatch::peerGone(fd_);
  }

  void check(bool final, Done done) override {
    ctx_.store.get(ws_, rt_, id_, [this, final, done = std::move(done)](ApiResult<RecordRead> r) {
      if (!r) {
        if (r.error().code == Errc::kStoreUnavailable) return done(Outcome::kUnavailable, -1);
        if (!started_) {
          watch_.reset();
          sendError(res_, r.error());
        } else {
          finishStream();
        }
        return done(Outcome::kAnswered, -1);
      }
      const Record& rec = r->record;
      if (!started_) {
        res_.startStream(200, "text/event-stream",
                         {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
        started_ = true;
        // evhttp now reads the socket to detect a close, and frees the connection (closing the
        // fd) when the client leaves: our own watch must go, evhttp tells us instead.
        watch_.reset();
        res_.setOnClose(&EventsWaiter::onClosed, this);
        timeval tv{kKeepAliveSeconds, 0};
        event_add(keepalive_, &tv);
      }
      if (rec.version > sent_version_) {
        res_.sendChunk("event: state\ndata: " + renderRecord(rec) + "\n\n");
        sent_version_ = rec.version;
      }
      if (rec.terminal() || final) {
        finishStream();
        return done(Outcome::kAnswered, -1);
      }
      done(Outcome::kPark, r->next_deadline_ms);
    });
  }

  void abandon(std::string_view) override {
    if (started_) return finishStream();
    watch_.reset();
    sendError(res_, Errc::kStoreUnavailable, "the store is unavailable; retry");
  }

  void onClientGone() override {
    if (started_) return finishStream();
    watch_.reset();
    sendError(res_, Errc::kInternal, "client closed");
  }

 private:
  void finishStream() {
    watch_.reset();
    if (keepalive_ != nullptr) event_del(keepalive_);
    if (res_.valid()) res_.endStream();
  }

  static void onClosed(void* arg) {
    auto* self = static_cast<EventsWaiter*>(arg);
    self->closed_ = true;
    self->clientLeft();  // Waiters finishes it on the next loop turn
  }

  static void onKeepAlive(int, short, void* arg) noexcept {
    auto* self = static_cast<EventsWaiter*>(arg);
    if (self->res_.valid()) self->res_.sendChunk(": keep-alive\n\n");
  }

  Context& ctx_;
  std::string ws_, rt_, id_;
  std::vector<std::string> channels_;
  int fd_;
  http::Responder res_;
  std::unique_ptr<http::PeerWatch> watch_;
  event* keepalive_ = nullptr;
  bool started_ = false;
  bool closed_ = false;
  int64_t sent_version_ = 0;
};

}  // namespace

void addEventRoutes(http::Router& router, Context& ctx) {
  router.add(http::Method::kGet, "/api/runtimes/{rt}/requests/{id}/events", "request_events",
             [&ctx](http::Request&& req, http::Params&& p, http::Responder&& res) {
               std::string rt(p.get("rt")), id(p.get("id"));
               withCaller(
                   ctx, std::move(req), std::move(res), Caller::Kind::kUser,
                   [&ctx, rt, id](http::Request&& req, http::Responder&& res, Caller&& caller) {
                     if (auto ok = checkId(rt, "runtime id"); !ok)
                       return sendError(res, ok.error());
                     if (auto ok = checkId(id, "request id"); !ok)
                       return sendError(res, ok.error());
                     ctx.waiters.add(std::make_unique<EventsWaiter>(ctx, caller.workspace, rt, id,
                                                                    req.fd, std::move(res)),
                                     kMaxStreamMs);
                   },
                   /*allow_query=*/true);
             });
}

}  // namespace courier::api
