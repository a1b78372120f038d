// The wake-up half alone: a parked long-poll, then the event that ends it. courier-wake parks
// a frontend GET on a running request and has the daemon report; nchan parks a subscriber and
// publishes. Both measure from the event sent to the parked call's response.

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "courier/bench/http_client.h"
#include "courier/bench/load.h"
#include "courier/bench/process.h"
#include "courier/bench/record.h"
#include "courier/bench/timer.h"

namespace courier::bench {
namespace {

constexpr int64_t kErrorBackoffNs = 20'000'000;

// What both pair kinds share: the round structure. A round ends once both the parked call and
// the event's own request have answered; only then does the next one start.
class Pair {
 public:
  Pair(Driver& driver, uint64_t seed)
      : driver_(driver),
        rng_(seed),
        settle_timer_(driver.base(), [this] { fire(); }),
        retry_timer_(driver.base(), [this] { round(); }) {}
  virtual ~Pair() = default;

  void round() {
    busy_ = false;
    if (!driver_.mayStart()) return;
    busy_ = true;
    parked_done_ = event_done_ = failed_ = false;
    fire_ns_ = 0;
    prepare();
  }

  bool busy() const { return busy_; }

 protected:
  // Sets up and sends the parked call, then calls parked(); on failure calls fail().
  virtual void prepare() = 0;
  // Sends the event (report / publish); calls eventAnswered() with its response.
  virtual void sendEvent() = 0;

  // The event fires settle_ms to 2 × settle_ms after the park: the jitter keeps the pairs from
  // marching in lockstep, which would measure a burst of P simultaneous events every round.
  void parked(int settle_ms) {
    const int64_t settle_ns = static_cast<int64_t>(settle_ms) * 1'000'000;
    settle_timer_.start(settle_ns + std::uniform_int_distribution<int64_t>(0, settle_ns)(rng_));
  }

  void parkedAnswered(bool ok, const std::string& error_kind) {
    if (!ok) {
      failOnce(error_kind);
    } else if (fire_ns_ == 0) {
      failOnce("parked_call_returned_before_event");
    } else {
      driver_.completed(nowNs() - fire_ns_);
    }
    parked_done_ = true;
    maybeNext();
  }

  void eventAnswered(bool ok, const std::string& error_kind) {
    if (!ok) failOnce(error_kind);
    event_done_ = true;
    maybeNext();
  }

  // A failure before the event was sent ends the round at once.
  void fail(const std::string& kind) {
    driver_.error(kind);
    settle_timer_.cancel();
    busy_ = false;
    retry_timer_.start(kErrorBackoffNs);
  }

  Driver& driver_;

 private:
  void fire() {
    fire_ns_ = nowNs();
    sendEvent();
  }

  void failOnce(const std::string& kind) {
    if (!failed_) driver_.error(kind);
    failed_ = true;
  }

  void maybeNext() {
    if (!parked_done_ || !event_done_) return;
    if (failed_) {
      busy_ = false;
      retry_timer_.start(kErrorBackoffNs);
    } else {
      round();
    }
  }

  std::mt19937_64 rng_;
  Timer settle_timer_;
  Timer retry_timer_;
  int64_t fire_ns_ = 0;
  bool busy_ = false;
  bool parked_done_ = false;
  bool event_done_ = false;
  bool failed_ = false;
};

// Courier: create → claim (running) → GET ?wait=30 parks → settle → report.
class CourierWakePair : public Pair {
 public:
  CourierWakePair(Driver& driver, const Endpoint& frontend_node, const Endpoint& daemon_node,
                  Headers user, Headers daemon, const std::string& runtime,
                  const std::string& consumer, int settle_ms)
      : Pair(driver, std::hash<std::string>()(consumer)),
        frontend_(driver.base(), frontend_node,
                  {.timeout_s = 75, .local_address = {}, .default_headers = std::move(user)}),
        daemon_(driver.base(), daemon_node,
                {.timeout_s = 75,
                 .local_address = {},
                 .default_headers = withConsumer(std::move(daemon), consumer)}),
        runtime_(runtime),
        settle_ms_(settle_ms) {}

 protected:
  void prepare() override {
    frontend_.send(EVHTTP_REQ_POST, "/api/runtimes/" + runtime_ + "/requests",
                   R"({"kind":"model_list"})", [this](HttpResponse&& r) {
                     if (r.status != 201) return fail(failureKind("create", r));
                     const RecordView rec = parseRecord(r.body);
                     if (!rec.valid) return fail("create:bad_body");
                     id_ = rec.id;
                     claim();
                   });
  }

  void sendEvent() override {
    const std::string body =
        R"({"attempt":)" + std::to_string(attempt_) +
        R"(,"status":"completed","result":{"models":[{"id":"model-a","label":"Model A"}]}})";
    daemon_.send(
        EVHTTP_REQ_POST, "/api/daemon/runtimes/" + runtime_ + "/requests/" + id_ + "/result", body,
        [this](HttpResponse&& r) { eventAnswered(r.status == 200, failureKind("report", r)); });
  }

 private:
  static Headers withConsumer(Headers h, const std::string& consumer) {
    h.emplace_back("X-Courier-Consumer", consumer);
    return h;
  }

  void claim() {
    daemon_.send(
        EVHTTP_REQ_POST, "/api/daemon/claim",
        R"({"runtime_ids":[")" + runtime_ + R"("],"max":1,"wait":5})", [this](HttpResponse&& r) {
          std::vector<ClaimedView> claimed;
          if (r.status != 200) return fail(failureKind("claim", r));
          if (!parseClaim(r.body, &claimed) || claimed.size() != 1 || claimed[0].id != id_) {
            return fail("claim:unexpected_body");
          }
          attempt_ = claimed[0].attempt;
          park();
        });
  }

  void park() {
    frontend_.send(EVHTTP_REQ_GET, "/api/runtimes/" + runtime_ + "/requests/" + id_ + "?wait=30",
                   {}, [this](HttpResponse&& r) {
                     if (r.status != 200) return parkedAnswered(false, failureKind("get", r));
                     const RecordView rec = parseRecord(r.body);
                     parkedAnswered(rec.valid && rec.status == "completed",
                                    rec.valid ? "get:ended_" + rec.status : "get:bad_body");
                   });
    parked(settle_ms_);
  }

  HttpConn frontend_;
  HttpConn daemon_;
  std::string runtime_;
  int settle_ms_;
  std::string id_;
  int64_t attempt_ = 0;
};

// nchan: GET /sub/<fresh channel> parks → settle → POST /pub/<channel>.
class NchanPair : public Pair {
 public:
  NchanPair(Driver& driver, const Endpoint& nginx, int index, int settle_ms)
      : Pair(driver, static_cast<uint64_t>(index) * 7919 + 1),
        sub_(driver.base(), nginx, {.timeout_s = 75, .local_address = {}, .default_headers = {}}),
        pub_(driver.base(), nginx, {.timeout_s = 75, .local_address = {}, .default_headers = {}}),
        index_(index),
        settle_ms_(settle_ms) {}

 protected:
  void prepare() override {
    // A fresh channel per round: a subscriber never gets an older message at once.
    channel_ = "p" + std::to_string(index_) + "r" + std::to_string(++round_);
    sub_.send(EVHTTP_REQ_GET, "/sub/" + channel_, {},
              [this](HttpResponse&& r) { parkedAnswered(r.status == 200, failureKind("sub", r)); });
    parked(settle_ms_);
  }

  void sendEvent() override {
    pub_.send(EVHTTP_REQ_POST, "/pub/" + channel_,
              R"({"id":")" + channel_ + R"(","status":"completed","version":3})",
              [this](HttpResponse&& r) {
                eventAnswered(r.status == 201 || r.status == 202 || r.status == 200,
                              failureKind("pub", r));
              });
  }

 private:
  HttpConn sub_;
  HttpConn pub_;
  int index_;
  int settle_ms_;
  int64_t round_ = 0;
  std::string channel_;
};

template <class PairT>
void startAll(const std::vector<std::unique_ptr<PairT>>& pairs) {
  for (const auto& p : pairs) p->round();
}

template <class PairT>
bool anyBusy(const std::vector<std::unique_ptr<PairT>>& pairs) {
  return std::any_of(pairs.begin(), pairs.end(), [](const auto& p) { return p->busy(); });
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

int g_run_counter = 0;

}  // namespace

RunResult runCourierWake(BenchEnv& env, const LoadSpec& spec) {
  RunResult result;
  result.mode = "courier-wake";
  result.server_what = "courier node(s)";
  const std::string prefix = "bench-w" + std::to_string(++g_run_counter);
  std::vector<std::string> runtimes;
  if (!prepareRuntimes(env, prefix, spec.concurrency, &runtimes, &result)) return result;
  Driver driver(spec, /*drain_s=*/40);
  std::vector<std::unique_ptr<CourierWakePair>> pairs;
  for (int i = 0; i < spec.concurrency; ++i) {
    // With several nodes the GET and the report land on different nodes, as behind a balancer:
    // the wake-up then crosses nodes through Redis pub/sub.
    pairs.push_back(std::make_unique<CourierWakePair>(
        driver, env.node(i), env.node(i + 1), env.userHeaders(), env.daemonHeaders(), runtimes[i],
        prefix + "-c" + std::to_string(i), spec.settle_ms));
  }
  CostMeter meter(env, env.nodePids(), /*scrape_node=*/true);
  measure(
      driver, meter, &result, [&] { startAll(pairs); }, [&] { return !anyBusy(pairs); });
  result.note += "costs per round include create + claim + GET + report. ";
  return result;
}

RunResult runNchan(BenchEnv& env, const LoadSpec& spec, const std::string& nginx_bin,
                   const std::string& module_path, const std::string& peers_dir) {
  RunResult result;
  result.mode = "nchan";
  result.server_what = "nginx+nchan";
  const auto skip = [&](const std::string& why) {
    result.skipped = true;
    result.note = "skipped: " + why;
    return result;
  };
  if (::access(module_path.c_str(), R_OK) != 0) {
    return skip("nchan module not found at " + module_path +
                " (apt-get install nginx libnginx-mod-nchan, or --nchan-module PATH)");
  }
  const std::string template_path = peers_dir + "/nchan/nginx.conf.template";
  std::string conf = readFile(template_path);
  if (conf.empty()) return skip("cannot read " + template_path);

  const std::string dir = makeTempDir("courier-bench-nginx");
  if (dir.empty()) return skip("no temp dir");
  Endpoint nginx{"127.0.0.1", freeLoopbackPort()};
  replaceAll(conf, "@MODULE@", module_path);
  replaceAll(conf, "@DIR@", dir);
  replaceAll(conf, "@PORT@", std::to_string(nginx.port));
  replaceAll(conf, "@REDIS@", env.redisUrl());
  {
    std::ofstream out(dir + "/nginx.conf");
    out << conf;
  }
  auto child = std::make_unique<ChildProcess>(
      std::vector<std::string>{nginx_bin, "-p", dir, "-c", dir + "/nginx.conf"},
      ChildProcess::Options{.log_path = dir + "/stdout.log", .pipe_stdio = false});
  if (!child->start()) {
    removeTree(dir);
    return skip("cannot run " + nginx_bin + ": " + child->error());
  }
  // nginx prints nothing when ready: it is once it answers (404 for an unknown path).
  bool ready = false;
  for (int i = 0; i < 200 && !ready && child->running() && !g_interrupted.load(); ++i) {
    ready = fetchSync(nginx, EVHTTP_REQ_GET, "/", {}, {}, 2).status != 0;
    if (!ready) ::usleep(50'000);
  }
  if (!ready) {
    const std::string log = child->log() + readFile(dir + "/error.log");
    child.reset();
    removeTree(dir);
    return skip("nginx did not start: " + log);
  }

  Driver driver(spec, /*drain_s=*/40);
  std::vector<std::unique_ptr<NchanPair>> pairs;
  for (int i = 0; i < spec.concurrency; ++i) {
    pairs.push_back(std::make_unique<NchanPair>(driver, nginx, i, spec.settle_ms));
  }
  CostMeter meter(env, {child->pid()}, /*scrape_node=*/false);
  measure(
      driver, meter, &result, [&] { startAll(pairs); }, [&] { return !anyBusy(pairs); });
  pairs.clear();
  child.reset();  // SIGTERM: nginx exits at once
  removeTree(dir);
  return result;
}

}  // namespace courier::bench
