// Idle scale: K daemons each parking one claim (wait=60) on an empty runtime, all on node 0,
// from source addresses 127.0.0.2, 127.0.0.3, … (about 5000 connections each, well inside one
// address's ephemeral port range). Then, while nothing happens: what does each parked claim cost
// the node in memory, how many Redis connections does the node hold, and how many commands a
// second does Redis see?

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "courier/bench/http_client.h"
#include "courier/bench/load.h"
#include "courier/bench/process.h"
#include "courier/bench/timer.h"

namespace courier::bench {
namespace {

constexpr int kPerSourceAddress = 5000;
constexpr int kRuntimes = 10;
constexpr int kConnectBatch = 250;              // connections opened per pacing tick
constexpr int64_t kConnectTickNs = 10'000'000;  // keeps the node's accept queue from overflowing
constexpr int kClaimWaitS = 60;
constexpr int64_t kSettleLimitNs = 30'000'000'000;

// Runs `base` for `ns`, so the harness keeps reading whatever the node sends meanwhile.
void runFor(event_base* base, int64_t ns) {
  const timeval tv{static_cast<time_t>(ns / 1'000'000'000),
                   static_cast<suseconds_t>((ns % 1'000'000'000) / 1000)};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

}  // namespace

IdleResult runIdle(BenchEnv& env, int claims, double idle_window_s, bool progress_tty) {
  IdleResult out;
  out.requested = claims;
  const uint64_t fd_limit = raiseFdLimit();
  if (fd_limit < static_cast<uint64_t>(claims) + 200) {
    out.note += "RLIMIT_NOFILE is " + std::to_string(fd_limit) + ": K lowered to fit. ";
    claims = static_cast<int>(fd_limit > 400 ? fd_limit - 200 : 0);
  }
  if (claims <= 0) {
    out.skipped = true;
    out.note += "no file descriptors to spare";
    return out;
  }

  std::vector<std::string> runtimes;
  for (int i = 0; i < kRuntimes; ++i) runtimes.push_back("bench-idle-rt" + std::to_string(i));
  std::string why;
  if (!env.registerRuntimes(runtimes, &why)) {
    out.skipped = true;
    out.note += why;
    return out;
  }

  const Endpoint node = env.node(0);
  const pid_t node_pid = env.nodePids()[0];
  std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), &event_base_free);
  runFor(base.get(), 1'000'000'000);  // let the registration's traffic finish
  out.rss_before_kib = processRssKib(node_pid);
  if (const auto snap = env.probe().snapshot()) {
    out.redis_clients_before = snap->connected_clients - 1;  // minus the probe's own
  }

  std::vector<std::unique_ptr<HttpConn>> conns;
  conns.reserve(static_cast<size_t>(claims));
  int opened = 0;
  std::function<void()> open_batch;
  Timer opener(base.get(), [&] { open_batch(); });
  open_batch = [&] {
    for (int n = 0; n < kConnectBatch && opened < claims; ++n, ++opened) {
      const std::string source = "127.0.0." + std::to_string(2 + opened / kPerSourceAddress);
      Headers headers = env.daemonHeaders();
      headers.emplace_back("X-Courier-Consumer", "bench-idle-" + std::to_string(opened));
      conns.push_back(
          std::make_unique<HttpConn>(base.get(), node,
                                     HttpConn::Options{.timeout_s = kClaimWaitS + 15,
                                                       .local_address = source,
                                                       .default_headers = std::move(headers)}));
      const std::string body = R"({"runtime_ids":[")" + runtimes[opened % kRuntimes] +
                               R"("],"max":1,"wait":)" + std::to_string(kClaimWaitS) + "}";
      // Any answer before teardown is a claim that did not stay parked.
      conns.back()->send(EVHTTP_REQ_POST, "/api/daemon/claim", body, [&](HttpResponse&& r) {
        if (r.status == 200) {
          ++out.early_replies;
        } else {
          ++out.errors[failureKind("", r)];
        }
      });
    }
    if (opened < claims) opener.start(kConnectTickNs);
  };

  const int64_t t_open = nowNs();
  open_batch();
  // Parked means: the node's own gauge says so when it has one; else Redis has gone quiet (every
  // claim ran its script) for a full second after the last connection was opened.
  const bool has_gauge = env.scrapeMetric("courier_parked{type=\"claim\"}").has_value();
  int64_t last_total = -1;
  int quiet_ticks = 0;
  for (int tick = 0; !g_interrupted.load(); ++tick) {
    runFor(base.get(), 250'000'000);
    // A terminal gets every tick; a log one line a second.
    if (progress_tty || tick % 4 == 0) {
      std::fprintf(stderr, "%s[idle K=%d] opened %d/%d%s", progress_tty ? "\r\033[K" : "", claims,
                   opened, claims, progress_tty ? "" : "\n");
    }
    if (nowNs() - t_open > kSettleLimitNs) {
      out.note += "claims not all parked after 30 s; measured anyway. ";
      break;
    }
    if (opened < claims) continue;
    if (has_gauge) {
      const auto parked = env.scrapeMetric("courier_parked{type=\"claim\"}");
      if (parked && *parked >= claims) break;
      continue;
    }
    const auto snap = env.probe().snapshot();
    const int64_t total = snap ? snap->total_commands_processed : -1;
    quiet_ticks = (total >= 0 && total - last_total <= 2) ? quiet_ticks + 1 : 0;
    last_total = total;
    if (quiet_ticks >= 4) break;
  }
  if (progress_tty) std::fprintf(stderr, "\n");
  out.parked_gauge = env.scrapeMetric("courier_parked{type=\"claim\"}");
  out.parked = claims - static_cast<int>(out.early_replies + totalErrors(out.errors));
  if (!has_gauge)
    out.note += "the node exposes no courier_parked gauge: waited for Redis to go quiet. ";

  // The idle window: nothing is pending, every claim is parked.
  out.rss_parked_kib = processRssKib(node_pid);
  const auto before = env.probe().snapshot();
  const int64_t probe_before = env.probe().ownCommands();
  const int64_t cpu_before = processCpuUs(node_pid);
  const int64_t t0 = nowNs();
  runFor(base.get(), static_cast<int64_t>(idle_window_s * 1e9));
  const int64_t t1 = nowNs();
  const int64_t cpu_after = processCpuUs(node_pid);
  const auto after = env.probe().snapshot();
  out.idle_window_s = static_cast<double>(t1 - t0) / 1e9;
  if (before && after) {
    const RedisDelta d = diff(*before, *after, env.probe().ownCommands() - probe_before);
    out.redis_commands_per_s = static_cast<double>(d.calls) / out.idle_window_s;
    out.idle_by_command = d.by_command;
    out.redis_clients_parked = after->connected_clients - 1;
  }
  out.node_cpu_pct =
      100.0 * static_cast<double>(cpu_after - cpu_before) * 1e3 / static_cast<double>(t1 - t0);
  if (out.parked > 0) {
    out.rss_per_claim_kib =
        static_cast<double>(out.rss_parked_kib - out.rss_before_kib) / out.parked;
  }
  std::fprintf(stderr,
               "[idle K=%d] parked %d, node RSS +%.2f KiB/claim, %lld Redis clients, "
               "%.1f Redis cmds/s idle\n",
               claims, out.parked, out.rss_per_claim_kib,
               static_cast<long long>(out.redis_clients_parked), out.redis_commands_per_s);

  // Closing the sockets releases the parked claims on the node (it watches each one).
  conns.clear();
  runFor(base.get(), 500'000'000);
  return out;
}

}  // namespace courier::bench
