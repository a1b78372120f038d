#include "courier/node/metrics_registry.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

namespace courier::node {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric counter(double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  return m;
}

ClientMetric gauge(double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

// Sums the workers' histograms `get(w)` into one cumulative prometheus histogram.
template <class Get>
ClientMetric histogram(const std::vector<const WorkerMetrics*>& workers, Get get,
                       std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  const Histogram& first = get(*workers.front());
  std::vector<uint64_t> counts(first.bounds().size() + 1, 0);
  for (const auto* w : workers) {
    const Histogram& h = get(*w);
    m.histogram.sample_count += h.count();
    m.histogram.sample_sum += h.sum();
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += h.bucket(i);
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound =
        i < first.bounds().size() ? first.bounds()[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  return m;
}

}  // namespace

std::vector<MetricFamily> MetricsRegistry::Collect() const {
  std::vector<MetricFamily> out;
  if (workers_.empty()) return out;
  const auto& kinds = workers_.front()->kinds;
  auto sum = [&](auto get) {
    double total = 0;
    for (const auto* w : workers_) total += static_cast<double>(get(*w));
    return total;
  };

  auto created =
      family("courier_requests_created_total", "Requests created, by kind.", MetricType::Counter);
  auto claimed = family("courier_requests_claimed_total", "Deliveries to daemons, by kind.",
                        MetricType::Counter);
  auto released = family("courier_requests_released_total",
                         "Deliveries given back because the daemon hung up before it got them "
                         "(also counted as claimed), by kind.",
                         MetricType::Counter);
  auto ended = family("courier_requests_ended_total", "Requests ended, by kind and status.",
                      MetricType::Counter);
  auto duration = family("courier_request_duration_seconds",
                         "Time from create to terminal state, by kind.", MetricType::Histogram);
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::string kind(kinds[k]);
    created.metric.push_back(
        counter(sum([&](const WorkerMetrics& w) { return w.created[k].get(); }), {{"kind", kind}}));
    claimed.metric.push_back(
        counter(sum([&](const WorkerMetrics& w) { return w.claimed[k].get(); }), {{"kind", kind}}));
    released.metric.push_back(counter(
        sum([&](const WorkerMetrics& w) { return w.released[k].get(); }), {{"kind", kind}}));
    for (size_t s = 2; s < kStatuses.size(); ++s) {  // terminal statuses only
      ended.metric.push_back(
          counter(sum([&](const WorkerMetrics& w) { return w.ended[k][s].get(); }),
                  {{"kind", kind}, {"status", std::string(kStatuses[s])}}));
    }
    duration.metric.push_back(histogram(
        workers_, [&](const WorkerMetrics& w) -> const Histogram& { return w.duration[k]; },
        {{"kind", kind}}));
  }
  out.push_back(std::move(created));
  out.push_back(std::move(claimed));
  out.push_back(std::move(released));
  out.push_back(std::move(ended));
  out.push_back(std::move(duration));

  auto parked =
      family("courier_parked", "Long-polls parked on this node, by type.", MetricType::Gauge);
  parked.metric.push_back(gauge(sum([](const WorkerMetrics& w) { return w.parked_claims.get(); }),
                                {{"type", "claim"}}));
  parked.metric.push_back(
      gauge(sum([](const WorkerMetrics& w) { return w.parked_gets.get(); }), {{"type", "get"}}));
  parked.metric.push_back(gauge(sum([](const WorkerMetrics& w) { return w.parked_events.get(); }),
                                {{"type", "events"}}));
  out.push_back(std::move(parked));

  auto roundtrip = family("courier_redis_roundtrip_seconds", "Round-trip time of Redis commands.",
                          MetricType::Histogram);
  roundtrip.metric.push_back(histogram(
      workers_, [](const WorkerMetrics& w) -> const Histogram& { return w.redis_roundtrip; }));
  out.push_back(std::move(roundtrip));

  auto commands = family("courier_redis_commands_total",
                         "Commands sent to Redis (round trips; a script call counts one).",
                         MetricType::Counter);
  commands.metric.push_back(
      counter(sum([](const WorkerMetrics& w) { return w.redis_commands.get(); })));
  out.push_back(std::move(commands));

  auto reconnects = family("courier_redis_reconnects_total",
                           "Redis connections re-established after a loss.", MetricType::Counter);
  reconnects.metric.push_back(
      counter(sum([](const WorkerMetrics& w) { return w.redis_reconnects.get(); })));
  out.push_back(std::move(reconnects));

  auto wakeups = family("courier_wakeups_total", "Pub/sub wake-ups that concerned a parked call.",
                        MetricType::Counter);
  wakeups.metric.push_back(counter(sum([](const WorkerMetrics& w) { return w.wakeups.get(); })));
  out.push_back(std::move(wakeups));

  auto responses = family("courier_http_responses_total", "HTTP responses, by route and code.",
                          MetricType::Counter);
  for (size_t r = 0; r < routes_.size(); ++r) {
    for (size_t c = 0; c <= kOtherCode; ++c) {
      double v = sum([&](const WorkerMetrics& w) {
        return r < w.responses.size() ? w.responses[r][c].get() : 0;
      });
      if (v == 0) continue;  // keep the exposition short: only what happened
      std::string code = c == kOtherCode ? "other" : std::to_string(kHttpCodes[c]);
      responses.metric.push_back(counter(v, {{"route", routes_[r]}, {"code", code}}));
    }
  }
  out.push_back(std::move(responses));
  return out;
}

std::string MetricsRegistry::scrape() const {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, Collect());
  return os.str();
}

}  // namespace courier::node
