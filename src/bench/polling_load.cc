// polling mode: the protocol Courier replaces, spoken over Courier's compatibility routes. The
// daemon learns of work only on its heartbeat (one model list per heartbeat per runtime) and the
// browser polls the record every poll_ms. Same node, same Redis: the difference in latency is
// the protocol's alone.

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "courier/bench/http_client.h"
#include "courier/bench/load.h"
#include "courier/bench/record.h"
#include "courier/bench/timer.h"

namespace courier::bench {
namespace {

constexpr int64_t kErrorBackoffNs = 20'000'000;

// The old daemon's report body (COMPAT.md), with the same model list as courier mode's.
const char kModelsReport[] =
    R"({"status":"completed","supported":true,"models":[{"id":"model-a","label":"Model A",)"
    R"("default":true},{"id":"model-b","label":"Model B"}]})";

// The web app: POST, then GET (no wait) every poll_ms until the record is terminal.
class PollingBrowser {
 public:
  PollingBrowser(Driver& driver, const Endpoint& node, Headers auth, const std::string& runtime,
                 int poll_ms, int heartbeat_ms, uint64_t seed)
      : driver_(driver),
        conn_(driver.base(), node,
              {.timeout_s = 30, .local_address = {}, .default_headers = std::move(auth)}),
        create_path_("/api/runtimes/" + runtime + "/requests"),
        poll_ns_(static_cast<int64_t>(poll_ms) * 1'000'000),
        rng_(seed),
        think_(0, static_cast<int64_t>(heartbeat_ms) * 1'000'000),
        poll_timer_(driver.base(), [this] { poll(); }),
        create_timer_(driver.base(), [this] { create(); }),
        next_timer_(driver.base(), [this] { next(); }) {}

  // A user clicks at a moment unrelated to the daemon's heartbeat: without this think time a
  // closed loop would create each request right after the heartbeat that served the previous
  // one, and every request would wait a whole period instead of half of one on average.
  void next() {
    busy_ = false;
    if (!driver_.mayStart()) return;
    busy_ = true;
    create_timer_.start(think_(rng_));
  }

  bool busy() const { return busy_; }

 private:
  void create() {
    t0_ns_ = nowNs();
    conn_.send(EVHTTP_REQ_POST, create_path_, R"({"kind":"model_list"})",
               [this](HttpResponse&& r) { onCreated(std::move(r)); });
  }

  void onCreated(HttpResponse&& r) {
    if (r.status != 201 && r.status != 200) return fail(failureKind("create", r));
    const RecordView rec = parseRecord(r.body);
    if (!rec.valid) return fail("create:bad_body");
    get_path_ = create_path_ + "/" + rec.id;
    poll_timer_.start(poll_ns_);
  }

  void poll() {
    conn_.send(EVHTTP_REQ_GET, get_path_, {}, [this](HttpResponse&& r) { onPolled(std::move(r)); });
  }

  void onPolled(HttpResponse&& r) {
    if (r.status != 200) return fail(failureKind("get", r));
    const RecordView rec = parseRecord(r.body);
    if (!rec.valid) return fail("get:bad_body");
    if (!isTerminal(rec.status)) {
      poll_timer_.start(poll_ns_);
      return;
    }
    if (rec.status != "completed") return fail("ended:" + rec.status);
    driver_.completed(nowNs() - t0_ns_);
    next();
  }

  void fail(const std::string& kind) {
    driver_.error(kind);
    busy_ = false;
    next_timer_.start(kErrorBackoffNs);
  }

  Driver& driver_;
  HttpConn conn_;
  std::string create_path_;
  std::string get_path_;
  int64_t poll_ns_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<int64_t> think_;
  Timer poll_timer_;
  Timer create_timer_;
  Timer next_timer_;
  int64_t t0_ns_ = 0;
  bool busy_ = false;
};

// The old daemon's heartbeat for one runtime: every heartbeat_ms on a fixed schedule (a slow
// report does not shift it), taking at most one model list per beat.
class HeartbeatDaemon {
 public:
  HeartbeatDaemon(Driver& driver, const Endpoint& node, Headers auth, std::string runtime,
                  int heartbeat_ms, int work_ms, int64_t phase_ns)
      : driver_(driver),
        conn_(driver.base(), node, {.timeout_s = 30, .local_address = {}, .default_headers = auth}),
        report_conn_(driver.base(), node,
                     {.timeout_s = 30, .local_address = {}, .default_headers = std::move(auth)}),
        runtime_(std::move(runtime)),
        period_ns_(static_cast<int64_t>(heartbeat_ms) * 1'000'000),
        work_ns_(static_cast<int64_t>(work_ms) * 1'000'000),
        phase_ns_(phase_ns),
        beat_timer_(driver.base(), [this] { beat(); }),
        work_timer_(driver.base(), [this] { report(); }) {}

  void start() {
    next_beat_ns_ = nowNs() + phase_ns_;
    beat_timer_.start(phase_ns_);
  }

 private:
  void beat() {
    next_beat_ns_ += period_ns_;
    beat_timer_.start(next_beat_ns_ - nowNs());
    conn_.send(EVHTTP_REQ_POST, "/api/daemon/heartbeat", R"({"runtime_id":")" + runtime_ + "\"}",
               [this](HttpResponse&& r) { onBeat(std::move(r)); });
  }

  void onBeat(HttpResponse&& r) {
    if (r.status == 404 && r.body.find("no route") != std::string::npos) {
      driver_.abort("the node has no POST /api/daemon/heartbeat (compatibility routes missing)");
      return;
    }
    std::string id;
    if (r.status != 200) return driver_.error(failureKind("heartbeat", r));
    if (!parseHeartbeat(r.body, &id)) return driver_.error("heartbeat:bad_body");
    if (id.empty()) return;
    pending_id_ = id;
    if (work_ns_ > 0) {
      work_timer_.start(work_ns_);
    } else {
      report();
    }
  }

  void report() {
    const std::string path =
        "/api/daemon/runtimes/" + runtime_ + "/models/" + pending_id_ + "/result";
    report_conn_.send(EVHTTP_REQ_POST, path, kModelsReport, [this](HttpResponse&& r) {
      if (r.status != 200) driver_.error(failureKind("report", r));
    });
  }

  Driver& driver_;
  HttpConn conn_;
  HttpConn report_conn_;
  std::string runtime_;
  int64_t period_ns_;
  int64_t work_ns_;
  int64_t phase_ns_;
  Timer beat_timer_;
  Timer work_timer_;
  int64_t next_beat_ns_ = 0;
  std::string pending_id_;
};

int g_run_counter = 0;

}  // namespace

RunResult runPolling(BenchEnv& env, const LoadSpec& spec) {
  RunResult result;
  result.mode = "polling";
  result.server_what = "courier node(s)";
  if (!env.nodeHasRoute("POST", "/api/daemon/heartbeat")) {
    result.skipped = true;
    result.note =
        "skipped: the node has no POST /api/daemon/heartbeat (compatibility routes "
        "not built in yet)";
    return result;
  }
  // One runtime per browser: the old design serves one model list per heartbeat per runtime, so
  // a shared runtime would measure that throttle instead of the protocol's latency.
  const std::string prefix = "bench-p" + std::to_string(++g_run_counter);
  std::vector<std::string> runtimes;
  if (!prepareRuntimes(env, prefix, spec.concurrency, &runtimes, &result)) return result;

  // In flight at the stop, a request waits for its runtime's next heartbeat and one more poll.
  const double drain_s = spec.heartbeat_ms / 1000.0 + 2 * spec.poll_ms / 1000.0 + 5;
  Driver driver(spec, drain_s);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> phase(0,
                                               static_cast<int64_t>(spec.heartbeat_ms) * 1'000'000);
  std::vector<std::unique_ptr<HeartbeatDaemon>> daemons;
  std::vector<std::unique_ptr<PollingBrowser>> browsers;
  for (int i = 0; i < spec.concurrency; ++i) {
    // Daemons heartbeat out of phase, as independent machines do.
    daemons.push_back(std::make_unique<HeartbeatDaemon>(driver, env.node(i), env.daemonHeaders(),
                                                        runtimes[i], spec.heartbeat_ms,
                                                        spec.work_ms, phase(rng)));
    browsers.push_back(std::make_unique<PollingBrowser>(driver, env.node(i), env.userHeaders(),
                                                        runtimes[i], spec.poll_ms,
                                                        spec.heartbeat_ms, rng()));
  }
  CostMeter meter(env, env.nodePids(), /*scrape_node=*/true);
  measure(
      driver, meter, &result,
      [&] {
        for (auto& d : daemons) d->start();
        for (auto& b : browsers) b->next();
      },
      [&] {
        return std::none_of(browsers.begin(), browsers.end(),
                            [](const auto& b) { return b->busy(); });
      });
  if (spec.rate > 0) {
    result.note += "--rate applies to courier mode only; polling ran closed-loop. ";
  }
  browsers.clear();
  daemons.clear();
  return result;
}

}  // namespace courier::bench
