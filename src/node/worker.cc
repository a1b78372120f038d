#include "courier/node/worker.h"

#include <event2/event.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "courier/api/auth.h"
#include "courier/api/context.h"
#include "courier/core/store.h"
#include "courier/core/waiters.h"
#include "courier/http/router.h"
#include "courier/http/server.h"
#include "courier/node/metrics_registry.h"
#include "courier/redis/connection.h"
#include "courier/redis/subscriber.h"
#include "courier/util/ids.h"
#include "courier/util/time.h"

namespace courier::node {

namespace {

constexpr size_t kMaxRoutes = 64;

// The metrics of the worker running on this thread: the Responder observer (process-wide) counts
// each reply in the metrics of the worker that sent it, without a lock.
thread_local WorkerMetrics* t_metrics = nullptr;

void countResponse(int status, uint32_t tag) {
  if (t_metrics != nullptr) t_metrics->countResponse(tag, status);
  if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("-> {} (route tag {})", status, tag);
}

std::vector<std::string_view> kindNames(const KindTable& kinds) {
  std::vector<std::string_view> names;
  for (const auto& k : kinds.all()) names.push_back(k.name);
  return names;
}

// epoll's changelist folds the add/remove pairs of one loop turn (hiredis re-arms its write
// event per command, parked requests add and remove their socket watch) into one epoll_ctl.
event_base* newEventBase() {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  return base != nullptr ? base : event_base_new();
}

}  // namespace

class Worker::Impl {
 public:
  Impl(WorkerConfig config, const KindTable& kinds, const redis::Endpoint& endpoint,
       const redis::ScriptRegistry& scripts, const MetricsRegistry& registry)
      : config_(std::move(config)),
        metrics_(kindNames(kinds), kMaxRoutes),
        base_(newEventBase()),
        redis_(base_, endpoint, scripts),
        subscriber_(base_, endpoint, redis_,
                    "courier:node:" + config_.node_id + ":" + std::to_string(config_.index) + ":" +
                        randomId()),
        store_(redis_, kinds, &metrics_),
        waiters_(base_, subscriber_, WaitersOptions{}, &metrics_),
        auth_(store_, config_.admin_token),
        ctx_{base_,
             kinds,
             redis_,
             store_,
             waiters_,
             auth_,
             [this] { return subscriber_.connected(); },
             [&registry] { return registry.scrape(); }},
        http_(base_, http::ServerOptions{}, [this](http::Request&& req, http::Responder&& res) {
          // The access log, at debug: nothing per request at info.
          SPDLOG_DEBUG("{} {} {} from {}", config_.index, http::methodName(req.method), req.path,
                       req.peer);
          router_.dispatch(std::move(req), std::move(res));
        }) {
    subscriber_.setHandler(&waiters_);
    redis_.setOnReadyChange([this](bool ready) {
      ready_.store(ready);
      if (ready && ever_ready_) metrics_.redis_reconnects.inc();
      if (ready) ever_ready_ = true;
      if (ready) {
        spdlog::info("worker {}: Redis ready", config_.index);
        waiters_.onStoreReady();
      } else {
        spdlog::warn("worker {}: Redis unavailable", config_.index);
      }
    });
    redis_.setOnRoundTrip([this](double seconds) {
      metrics_.redis_roundtrip.observe(seconds);
      metrics_.redis_commands.inc();
    });
    api::addOpsRoutes(router_, ctx_);
    api::addAdminRoutes(router_, ctx_);
    api::addDaemonRoutes(router_, ctx_);
    api::addFrontendRoutes(router_, ctx_);
    api::addCompatRoutes(router_, ctx_);
    api::addSkillRoutes(router_, ctx_);
    api::addCompatFrontendRoutes(router_, ctx_);
    api::addEventRoutes(router_, ctx_);
    shutdown_ev_ = event_new(base_, -1, 0, &Impl::onShutdown, this);
    drain_ev_ = event_new(base_, -1, EV_PERSIST, &Impl::onDrain, this);
  }

  ~Impl() {
    event_free(shutdown_ev_);
    event_free(drain_ev_);
  }

  void run() {
    t_metrics = &metrics_;
    redis_.start();
    subscriber_.start();
    event_base_dispatch(base_);
    // Everything in flight has been failed by stop(); members go before the base.
  }

  Result<int, std::string> bind(const std::string& host, int port, bool join) {
    return http_.bind(host, port, join);
  }

  // May be called from any thread (evthread_use_pthreads is on).
  void requestShutdown() { event_active(shutdown_ev_, EV_TIMEOUT, 0); }

  event_base* base() const { return base_; }
  bool ready() const { return ready_.load(); }
  const WorkerMetrics& metrics() const { return metrics_; }
  std::vector<std::string> routeNames() const { return router_.routeNames(); }

 private:
  static void onShutdown(int, short, void* arg) noexcept {
    auto* self = static_cast<Impl*>(arg);
    try {
      spdlog::info("worker {}: shutting down", self->config_.index);
      self->http_.stopListening();
      self->waiters_.shutdown();
      self->shutdown_started_ms_ = monotonicMs();
      timeval tv{0, 10 * 1000};
      event_add(self->drain_ev_, &tv);
    } catch (const std::exception& e) {
      spdlog::error("shutdown: {}", e.what());
    }
  }

  static void onDrain(int, short, void* arg) noexcept {
    auto* self = static_cast<Impl*>(arg);
    bool drained = self->waiters_.empty() && self->redis_.inFlight() == 0;
    bool late = monotonicMs() - self->shutdown_started_ms_ > self->config_.shutdown_grace_ms;
    if (!drained && !late) return;
    if (late) spdlog::warn("worker {}: shutdown grace period over", self->config_.index);
    event_del(self->drain_ev_);
    self->subscriber_.stop();
    self->redis_.stop();  // fails what is still in flight: those calls answer 503 now
    // Answers just sent sit in evhttp's output buffers: give the loop a moment to write them
    // before it stops and the connections are freed.
    timeval flush{0, 200 * 1000};
    event_base_loopexit(self->base_, &flush);
  }

  WorkerConfig config_;
  WorkerMetrics metrics_;
  bool ever_ready_ = false;
  event_base* base_;
  redis::Connection redis_;
  redis::Subscriber subscriber_;
  Store store_;
  Waiters waiters_;
  api::Auth auth_;
  api::Context ctx_;
  http::Router router_;
  http::HttpServer http_;
  event* shutdown_ev_ = nullptr;
  event* drain_ev_ = nullptr;
  int64_t shutdown_started_ms_ = 0;
  std::atomic<bool> ready_{false};  // written by the loop thread, read by main
};

Worker::Worker(WorkerConfig config, const KindTable& kinds, const redis::Endpoint& endpoint,
               const redis::ScriptRegistry& scripts, const MetricsRegistry& registry)
    : impl_(std::make_unique<Impl>(std::move(config), kinds, endpoint, scripts, registry)) {
  http::Responder::setObserver(&countResponse);
}

const WorkerMetrics& Worker::metrics() const { return impl_->metrics(); }
std::vector<std::string> Worker::routeNames() const { return impl_->routeNames(); }

Worker::~Worker() {
  join();
  event_base* base = impl_->base();
  impl_.reset();
  event_base_free(base);
}

Result<int, std::string> Worker::bind(const std::string& host, int port, bool join) {
  return impl_->bind(host, port, join);
}

void Worker::start() {
  thread_ = std::thread([this] { impl_->run(); });
}

bool Worker::ready() const { return impl_->ready(); }

void Worker::requestShutdown() { impl_->requestShutdown(); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace courier::node
