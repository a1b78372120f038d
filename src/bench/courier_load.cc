// courier mode: the product's own protocol. Frontends create a model list and long-poll its
// record until it ends; daemons long-poll claims and report each request they get.

#include <algorithm>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "courier/bench/http_client.h"
#include "courier/bench/load.h"
#include "courier/bench/record.h"
#include "courier/bench/timer.h"

namespace courier::bench {
namespace {

// A failed exchange is retried after this pause, so a node that answers errors at once (503
// runtime_offline, 429 queue_full) is not hammered in a tight loop.
constexpr int64_t kErrorBackoffNs = 20'000'000;
// Long-polls the harness parks: well under the client timeout (HttpConn::Options::timeout_s).
constexpr int kGetWaitS = 30;
constexpr int kClaimWaitS = 30;
// In-flight requests are bounded: open-loop arrivals beyond this many waiting are errors.
constexpr size_t kMaxBacklog = 100'000;

// The daemon's answer: a small model list, like a real one.
const char kModelsResult[] = R"({"models":[{"id":"model-a","label":"Model A","default":true},)"
                             R"({"id":"model-b","label":"Model B"}]})";

// One browser tab: create → GET ?wait=30 until terminal → next. Latency counts from t0 (the
// POST's send time in a closed loop, the scheduled arrival in an open one) to the terminal
// record's arrival.
class Frontend {
 public:
  Frontend(Driver& driver, const Endpoint& node, Headers auth, const std::string& runtime,
           std::function<void(Frontend*)> on_idle)
      : driver_(driver),
        conn_(driver.base(), node,
              {.timeout_s = 75, .local_address = {}, .default_headers = std::move(auth)}),
        create_path_("/api/runtimes/" + runtime + "/requests"),
        on_idle_(std::move(on_idle)),
        backoff_(driver.base(), [this] { on_idle_(this); }) {}

  void begin(int64_t t0_ns) {
    busy_ = true;
    t0_ns_ = t0_ns;
    conn_.send(EVHTTP_REQ_POST, create_path_, R"({"kind":"model_list"})",
               [this](HttpResponse&& r) { onCreated(std::move(r)); });
  }

  bool busy() const { return busy_; }

 private:
  void onCreated(HttpResponse&& r) {
    if (r.status != 201 && r.status != 200) return fail("create", r);
    const RecordView rec = parseRecord(r.body);
    if (!rec.valid) return failKind("create:bad_body");
    if (isTerminal(rec.status)) return ended(rec.status);
    get_path_ = create_path_ + "/" + rec.id + "?wait=" + std::to_string(kGetWaitS);
    get();
  }

  void get() {
    conn_.send(EVHTTP_REQ_GET, get_path_, {}, [this](HttpResponse&& r) { onGot(std::move(r)); });
  }

  void onGot(HttpResponse&& r) {
    if (r.status != 200) return fail("get", r);
    const RecordView rec = parseRecord(r.body);
    if (!rec.valid) return failKind("get:bad_body");
    if (!isTerminal(rec.status)) return get();  // the wait ran out: park again
    ended(rec.status);
  }

  void ended(const std::string& status) {
    if (status != "completed") return failKind("ended:" + status);
    driver_.completed(nowNs() - t0_ns_);
    busy_ = false;
    on_idle_(this);
  }

  void fail(const char* step, const HttpResponse& r) { failKind(failureKind(step, r)); }

  void failKind(const std::string& kind) {
    driver_.error(kind);
    busy_ = false;
    backoff_.start(kErrorBackoffNs);
  }

  Driver& driver_;
  HttpConn conn_;
  std::string create_path_;
  std::string get_path_;
  std::function<void(Frontend*)> on_idle_;
  Timer backoff_;
  int64_t t0_ns_ = 0;
  bool busy_ = false;
};

// One daemon instance (its own consumer id) serving its runtimes: a claim always parked while it
// has room, each claimed request reported on a connection of its own (a real daemon runs its
// actions concurrently), after work_ms if set.
class Daemon {
 public:
  Daemon(Driver& driver, const Endpoint& node, Headers auth, const std::string& consumer,
         const std::vector<std::string>& runtimes, int max_in_flight, int work_ms)
      : driver_(driver),
        node_(node),
        auth_(std::move(auth)),
        claim_conn_(driver.base(), node,
                    {.timeout_s = 75,
                     .local_address = {},
                     .default_headers = withConsumer(auth_, consumer)}),
        max_in_flight_(max_in_flight),
        work_ns_(static_cast<int64_t>(work_ms) * 1'000'000),
        retry_(driver.base(), [this] { claim(); }) {
    runtime_list_ = "[";
    for (size_t i = 0; i < runtimes.size(); ++i) {
      runtime_list_ += (i > 0 ? ",\"" : "\"") + runtimes[i] + "\"";
    }
    runtime_list_ += "]";
  }

  void start() { claim(); }

 private:
  struct Work {
    ClaimedView claimed;
    std::unique_ptr<Timer> timer;
  };

  static Headers withConsumer(Headers h, const std::string& consumer) {
    h.emplace_back("X-Courier-Consumer", consumer);
    return h;
  }

  void claim() {
    if (claiming_ || in_flight_ >= max_in_flight_) return;
    claiming_ = true;
    const int max = std::min(100, max_in_flight_ - in_flight_);
    const std::string body = R"({"runtime_ids":)" + runtime_list_ + R"(,"max":)" +
                             std::to_string(max) + R"(,"wait":)" + std::to_string(kClaimWaitS) +
                             "}";
    claim_conn_.send(EVHTTP_REQ_POST, "/api/daemon/claim", body,
                     [this](HttpResponse&& r) { onClaim(std::move(r)); });
  }

  void onClaim(HttpResponse&& r) {
    claiming_ = false;
    std::vector<ClaimedView> claimed;
    if (r.status != 200 || !parseClaim(r.body, &claimed)) {
      driver_.error(r.status == 200 ? "claim:bad_body" : failureKind("claim", r));
      retry_.start(kErrorBackoffNs);
      return;
    }
    in_flight_ += static_cast<int>(claimed.size());
    for (auto& c : claimed) {
      if (work_ns_ == 0) {
        report(c);
        continue;
      }
      // Finished items are dropped here, outside their own timer callback.
      working_.remove_if([](const Work& w) { return !w.timer->pending(); });
      working_.push_back({std::move(c), nullptr});
      Work& w = working_.back();
      w.timer = std::make_unique<Timer>(driver_.base(), [this, &w] { report(w.claimed); });
      w.timer->start(work_ns_);
    }
    claim();
  }

  void report(const ClaimedView& c) {
    HttpConn* conn;
    if (!idle_reports_.empty()) {
      conn = idle_reports_.back();
      idle_reports_.pop_back();
    } else {
      report_conns_.push_back(std::make_unique<HttpConn>(
          driver_.base(), node_,
          HttpConn::Options{.timeout_s = 75, .local_address = {}, .default_headers = auth_}));
      conn = report_conns_.back().get();
    }
    const std::string path =
        "/api/daemon/runtimes/" + c.runtime_id + "/requests/" + c.id + "/result";
    const std::string body = R"({"attempt":)" + std::to_string(c.attempt) +
                             R"(,"status":"completed","result":)" + kModelsResult + "}";
    conn->send(EVHTTP_REQ_POST, path, body, [this, conn](HttpResponse&& r) {
      if (r.status != 200) driver_.error(failureKind("report", r));
      idle_reports_.push_back(conn);
      --in_flight_;
      claim();
    });
  }

  Driver& driver_;
  Endpoint node_;
  Headers auth_;
  HttpConn claim_conn_;
  std::vector<std::unique_ptr<HttpConn>> report_conns_;
  std::vector<HttpConn*> idle_reports_;
  std::list<Work> working_;
  std::string runtime_list_;
  int max_in_flight_;
  int64_t work_ns_;
  Timer retry_;
  int in_flight_ = 0;
  bool claiming_ = false;
};

int g_run_counter = 0;

}  // namespace

RunResult runCourier(BenchEnv& env, const LoadSpec& spec) {
  RunResult result;
  result.mode = "courier";
  result.server_what = "courier node(s)";
  const std::string prefix = "bench-c" + std::to_string(++g_run_counter);
  const int daemons = std::max(1, spec.daemons);

  // One runtime per daemon, as on real machines; frontend i asks runtime i mod D.
  std::vector<std::string> runtimes;
  if (!prepareRuntimes(env, prefix, daemons, &runtimes, &result)) return result;

  Driver driver(spec, /*drain_s=*/40);
  // A daemon holds up to its share of the frontends' requests (at least the claim default).
  const int per_daemon = std::clamp((spec.concurrency + daemons - 1) / daemons, 10, 100);
  std::vector<std::unique_ptr<Daemon>> daemon_list;
  for (int j = 0; j < daemons; ++j) {
    daemon_list.push_back(std::make_unique<Daemon>(
        driver, env.node(j), env.daemonHeaders(), prefix + "-d" + std::to_string(j),
        std::vector<std::string>{runtimes[j]}, per_daemon, spec.work_ms));
  }

  // Open loop: arrivals at `rate` queue here until a frontend is free; their latency counts from
  // the scheduled arrival, so a slow server cannot hide its queueing (coordinated omission).
  std::deque<int64_t> backlog;
  std::vector<Frontend*> idle;
  int64_t scheduled = 0;
  const bool open_loop = spec.rate > 0;
  std::vector<std::unique_ptr<Frontend>> frontends;
  const auto dispatch = [&] {
    while (!backlog.empty() && !idle.empty()) {
      Frontend* fe = idle.back();
      idle.pop_back();
      fe->begin(backlog.front());
      backlog.pop_front();
    }
  };
  const auto on_idle = [&](Frontend* fe) {
    if (!open_loop) {
      if (driver.mayStart()) fe->begin(nowNs());
      return;
    }
    idle.push_back(fe);
    dispatch();
  };
  for (int i = 0; i < spec.concurrency; ++i) {
    frontends.push_back(std::make_unique<Frontend>(driver, env.node(i), env.userHeaders(),
                                                   runtimes[i % daemons], on_idle));
  }
  std::unique_ptr<Timer> arrivals;
  if (open_loop) {
    arrivals = std::make_unique<Timer>(driver.base(), [&] {
      const int64_t now = nowNs();
      const int64_t due =
          static_cast<int64_t>(static_cast<double>(now - driver.startNs()) / 1e9 * spec.rate);
      while (scheduled < due && driver.mayStart()) {
        const int64_t at = driver.startNs() + static_cast<int64_t>(scheduled / spec.rate * 1e9);
        ++scheduled;
        if (backlog.size() >= kMaxBacklog) {
          driver.error("backlog_full");
          continue;
        }
        backlog.push_back(at);
      }
      dispatch();
      if (!driver.stopping()) arrivals->start(1'000'000);
    });
  }

  CostMeter meter(env, env.nodePids(), /*scrape_node=*/true);
  for (auto& d : daemon_list) d->start();
  measure(
      driver, meter, &result,
      [&] {
        if (open_loop) {
          for (auto& fe : frontends) idle.push_back(fe.get());
          arrivals->start(0);
        } else {
          for (auto& fe : frontends) on_idle(fe.get());
        }
      },
      [&] {
        return backlog.empty() && std::none_of(frontends.begin(), frontends.end(),
                                               [](const auto& fe) { return fe->busy(); });
      });
  // Teardown closes every connection; the node releases the parked claims it sees go.
  frontends.clear();
  daemon_list.clear();
  arrivals.reset();
  return result;
}

}  // namespace courier::bench
