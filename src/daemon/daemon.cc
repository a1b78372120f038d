#include "courier/daemon/daemon.h"

#include <event2/event.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "courier/util/log.h"
#include "courier/util/time.h"

namespace courier::daemon {
namespace {

constexpr int kCallTimeoutS = 15;    // registration and lease extension
constexpr int kReportTimeoutS = 60;  // a report may carry 16 MiB
// The server takes daemon bodies up to 16 MiB; keep room for the envelope.
constexpr size_t kMaxReportBytes = (16u << 20) - 4096;

std::string joined(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string jsonQuoted(const std::string& s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

int64_t jittered(int64_t ms) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return ms / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(ms / 2 + 1));
}

}  // namespace

Daemon::Daemon(Loop& loop, Config config, ServerUrl url)
    : loop_(loop),
      config_(std::move(config)),
      url_(std::move(url)),
      client_(loop.base(), url_, config_.token, config_.consumer),
      retry_timer_(loop.base(),
                   [this] {
                     if (retry_step_ != nullptr) (this->*retry_step_)();
                   }),
      grace_timer_(loop.base(), [this] {
        spdlog::warn("shutdown: {} requests still in flight after {} s; abandoning them",
                     jobs_.size(), kShutdownGraceMs / 1000);
        for (auto& [key, job] : jobs_) job->cancel->store(true);
        loop_.stop();
      }) {}

Daemon::~Daemon() {
  for (auto& [key, job] : jobs_) job->cancel->store(true);
  for (auto& [key, job] : jobs_) {
    if (job->worker.joinable()) job->worker.join();
  }
  for (auto& job : finished_) {
    if (job->worker.joinable()) job->worker.join();
  }
}

void Daemon::start() {
  for (const auto& d : config_.skills_dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(d, ec)) {
      spdlog::warn("skills dir {} does not exist (yet): it is read again for every request", d);
    }
  }
  spdlog::info("courier-daemon {} for runtimes {} (owner {}) on {}", config_.consumer,
               joined(config_.runtimes), config_.owner, url_.describe());
  spdlog::info(
      "skills dirs: {}; models: {}; updates: {}",
      config_.skills_dirs.empty() ? "none" : joined(config_.skills_dirs),
      config_.models.empty() ? std::string("none") : std::to_string(config_.models.size()),
      config_.update_command.empty() ? "not supported" : joined(config_.update_command, " "));
  registerRuntimes();
}

// ---- Registration and the claim loop ------------------------------------------------------

void Daemon::registerRuntimes() {
  claiming_ = false;
  registered_ = 0;
  registerNext();
}

void Daemon::registerNext() {
  if (stopping_) return;
  if (registered_ == config_.runtimes.size()) {
    spdlog::info("registered {}; waiting for requests", joined(config_.runtimes));
    claiming_ = true;
    claim();
    return;
  }
  const std::string& rt = config_.runtimes[registered_];
  const std::string name =
      config_.runtimes.size() == 1 ? config_.name : config_.name + " (" + rt + ")";
  std::string body = "{\"id\":" + jsonQuoted(rt) + ",\"name\":" + jsonQuoted(name) +
                     ",\"provider\":" + jsonQuoted(config_.provider) +
                     ",\"owner_user_id\":" + jsonQuoted(config_.owner) + "}";
  register_call_ = client_.post("/api/daemon/runtimes", std::move(body), kCallTimeoutS,
                                [this](HttpReply reply) { onRegistered(reply); });
}

void Daemon::onRegistered(const HttpReply& reply) {
  register_call_ = 0;
  if (stopping_) return;
  const std::string& rt = config_.runtimes[registered_];
  if (reply.ok()) {
    serverBack();
    spdlog::debug("runtime {} registered ({})", rt, reply.status);
    ++registered_;
    registerNext();
  } else if (reply.transient()) {
    serverAway(reply, "registering");
    retryLater(&Daemon::registerNext);
  } else {
    // A wrong token, owner or URL: retrying cannot help.
    spdlog::critical("the server refused to register runtime {}: {}{}", rt, reply.describe(),
                     reply.status == 404 ? " (is --server the URL of a Courier node?)" : "");
    exit_code_ = 1;
    loop_.stop();
  }
}

void Daemon::claim() {
  if (stopping_ || !claiming_ || claim_call_ != 0 || retry_timer_.pending()) return;
  const int capacity = kMaxInFlight - static_cast<int>(jobs_.size());
  if (capacity <= 0) return;  // finishJob claims again
  std::string body = "{\"runtime_ids\":[";
  for (size_t i = 0; i < config_.runtimes.size(); ++i) {
    body += (i ? "," : "") + jsonQuoted(config_.runtimes[i]);
  }
  body += "],\"max\":" + std::to_string(std::min(kClaimMax, capacity)) +
          ",\"wait\":" + std::to_string(kClaimWaitS) + "}";
  claim_call_ = client_.post(
      "/api/daemon/claim", std::move(body), kClaimWaitS + 15,
      [this](HttpReply reply) { onClaim(reply); }, /*consumer=*/true);
}

void Daemon::onClaim(const HttpReply& reply) {
  claim_call_ = 0;
  if (stopping_) return;  // (its call is cancelled at shutdown; this is only a safety net)
  if (reply.status == 200) {
    rapidjson::Document doc;
    auto parsed = parseJson(reply.body, doc);
    if (!parsed || !doc.IsObject() || !doc.HasMember("requests") || !doc["requests"].IsArray()) {
      spdlog::error("unexpected claim response: {}", reply.body.substr(0, 200));
      retryLater(&Daemon::claim);
      return;
    }
    serverBack();
    for (const auto& request : doc["requests"].GetArray()) startJob(request);
    claim();
    return;
  }
  if (reply.status == 404) {
    // The server lost our runtimes (a new Redis, a deleted runtime): register them again.
    spdlog::warn("the server does not know our runtimes ({}); registering them again",
                 reply.describe());
    registerRuntimes();
    return;
  }
  if (reply.transient()) {
    serverAway(reply, "claiming");
  } else {
    spdlog::error("claim refused: {}{}; retrying", reply.describe(),
                  reply.status == 401 || reply.status == 403 ? " (check the daemon token)" : "");
    ++backoff_attempt_;
  }
  retryLater(&Daemon::claim);
}

// Runs `step` after the current backoff: doubling from kBackoffMinMs to kBackoffMaxMs, with
// jitter so that many daemons do not come back in step.
void Daemon::retryLater(void (Daemon::*step)()) {
  if (stopping_) return;
  const int shift = std::min(backoff_attempt_ > 0 ? backoff_attempt_ - 1 : 0, 10);
  const int64_t delay = jittered(std::min(kBackoffMaxMs, kBackoffMinMs << shift));
  spdlog::debug("retrying in {} ms", delay);
  retry_step_ = step;
  retry_timer_.start(delay);
}

// Said once per outage, at the second failure in a row: a single failure is usually a kept-alive
// connection the server closed at the wrong moment, and the retry just works.
void Daemon::serverAway(const HttpReply& reply, const char* what) {
  ++backoff_attempt_;
  if (!away_ && backoff_attempt_ >= 2) {
    away_ = true;
    spdlog::warn("server {} unavailable while {}: {}; retrying with backoff", url_.describe(), what,
                 reply.describe());
  } else {
    spdlog::debug("server still unavailable: {}", reply.describe());
  }
}

void Daemon::serverBack() {
  if (away_) spdlog::info("server {} is reachable again", url_.describe());
  away_ = false;
  backoff_attempt_ = 0;
}

// ---- Jobs ------------------------------------------------------------------------------------

Daemon::Job* Daemon::find(const std::string& key) {
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : it->second.get();
}

void Daemon::startJob(const rapidjson::Value& request) {
  const auto str = [&](const char* name) -> std::string {
    auto it = request.FindMember(name);
    return it != request.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  };
  auto job = std::make_unique<Job>();
  job->id = str("id");
  job->runtime_id = str("runtime_id");
  job->kind = str("kind");
  if (auto it = request.FindMember("attempt"); it != request.MemberEnd() && it->value.IsInt64()) {
    job->attempt = it->value.GetInt64();
  }
  if (auto it = request.FindMember("payload"); it != request.MemberEnd()) {
    job->payload = toJson(it->value);
  }
  if (job->id.empty() || job->runtime_id.empty()) {
    spdlog::error("claimed a request without an id or runtime: {}", toJson(request));
    return;
  }
  job->key = job->id + "#" + std::to_string(job->attempt);
  if (jobs_.count(job->key) != 0) return;  // the same delivery twice: already on it
  job->started_ms = monotonicMs();
  const std::string key = job->key;
  logWithRequest(spdlog::level::debug, job->id,
                 job->kind + " claimed (attempt " + std::to_string(job->attempt) + ")");
  Job& j = *jobs_.emplace(key, std::move(job)).first->second;
  if (answersInline(j.kind)) {
    // Answered on the spot: the report itself is all the server needs to hear.
    onWorkDone(key, handleRequest(j.kind, j.payload, config_, j.cancel.get()));
    return;
  }
  j.extend_timer = std::make_unique<Timer>(loop_.base(), [this, key] {
    if (Job* job = find(key); job != nullptr && job->state == Job::State::kWorking) {
      sendExtend(*job);
      job->extend_timer->start(kExtendEveryMs);
    }
  });
  sendExtend(j);
  j.extend_timer->start(kExtendEveryMs);
  j.working = true;
  // The thread gets copies and the cancel flag; config_ is immutable. It hands its outcome back
  // to the loop, which joins it there.
  j.worker = std::thread([this, key, kind = j.kind, payload = j.payload, cancel = j.cancel] {
    Outcome outcome = handleRequest(kind, payload, config_, cancel.get());
    loop_.post([this, key, outcome = std::move(outcome)]() mutable {
      onWorkDone(key, std::move(outcome));
    });
  });
}

void Daemon::onWorkDone(const std::string& key, Outcome outcome) {
  Job* job = find(key);
  if (job == nullptr) return;
  if (job->worker.joinable()) job->worker.join();
  job->working = false;
  if (job->state == Job::State::kAbandoned) {
    finishJob(*job);
    return;
  }
  job->outcome = std::move(outcome);
  std::string body = "{\"attempt\":" + std::to_string(job->attempt) + ",\"status\":";
  body += job->outcome.ok ? "\"completed\"" : "\"failed\"";
  if (!job->outcome.result.empty()) body += ",\"result\":" + job->outcome.result;
  if (!job->outcome.ok) body += ",\"error\":" + jsonQuoted(job->outcome.error);
  body += "}";
  if (body.size() > kMaxReportBytes) {
    job->outcome.ok = false;
    job->outcome.error = "the result is too large to send (" + std::to_string(body.size()) +
                         " bytes as JSON; the server takes 16 MiB)";
    job->outcome.summary = job->outcome.error;
    body = "{\"attempt\":" + std::to_string(job->attempt) +
           ",\"status\":\"failed\",\"error\":" + jsonQuoted(job->outcome.error) + "}";
  }
  job->report_body = std::move(body);
  job->state = Job::State::kReporting;
  if (job->extend_timer) job->extend_timer->stop();
  job->report_timer = std::make_unique<Timer>(loop_.base(), [this, key] {
    if (Job* j = find(key); j != nullptr) sendReport(*j);
  });
  sendReport(*job);
}

void Daemon::sendExtend(Job& job) {
  if (job.extend_call != 0) return;  // the previous one is still out
  const std::string key = job.key;
  job.extend_call =
      client_.post("/api/daemon/runtimes/" + job.runtime_id + "/requests/" + job.id + "/lease",
                   "{\"attempt\":" + std::to_string(job.attempt) + "}", kCallTimeoutS,
                   [this, key](HttpReply reply) { onExtend(key, reply); });
}

void Daemon::onExtend(const std::string& key, const HttpReply& reply) {
  Job* job = find(key);
  if (job == nullptr) return;
  job->extend_call = 0;
  if (job->state != Job::State::kWorking) return;
  if (reply.ok()) return;
  const std::string code = reply.code();
  if (reply.status == 409 && code == "cancelled") {
    abandon(*job, "the request was cancelled");
  } else if (reply.status == 409) {
    abandon(*job, "its lease was lost (" + reply.describe() + ")");
  } else if (reply.status == 404) {
    abandon(*job, "the server no longer has it");
  } else {
    // Transient, or refused: the lease from the claim still holds for a while; try again at
    // the next tick.
    logWithRequest(reply.transient() ? spdlog::level::debug : spdlog::level::warn, job->id,
                   "lease extension failed: " + reply.describe());
  }
}

void Daemon::sendReport(Job& job) {
  const std::string key = job.key;
  ++job.report_attempts;
  job.report_call = client_.post(
      "/api/daemon/runtimes/" + job.runtime_id + "/requests/" + job.id + "/result", job.report_body,
      kReportTimeoutS, [this, key](HttpReply reply) { onReport(key, reply); });
}

void Daemon::onReport(const std::string& key, const HttpReply& reply) {
  Job* job = find(key);
  if (job == nullptr) return;
  job->report_call = 0;
  const Outcome& o = job->outcome;
  const std::string took = std::to_string(monotonicMs() - job->started_ms) + " ms";
  if (reply.ok()) {
    const bool ignored = reply.body.find("\"ignored\"") != std::string::npos;
    logWithRequest(o.ok ? spdlog::level::info : spdlog::level::warn, job->id,
                   job->kind + (o.ok ? " completed: " : " failed: ") + o.summary + " (" + took +
                       (ignored ? "; the request had already ended, report ignored)" : ")"));
    finishJob(*job);
    return;
  }
  if (reply.transient() && job->report_attempts < std::size(kReportDelaysMs)) {
    const int64_t delay = kReportDelaysMs[job->report_attempts];
    logWithRequest(
        spdlog::level::warn, job->id,
        "report failed: " + reply.describe() + "; retrying in " + std::to_string(delay) + " ms");
    job->report_timer->start(delay);
    return;
  }
  if (reply.status == 409) {
    logWithRequest(
        spdlog::level::info, job->id,
        job->kind + " result dropped: " +
            (reply.code() == "cancelled" ? std::string("the request was cancelled")
                                         : "another attempt holds it (" + reply.describe() + ")"));
  } else if (reply.transient()) {
    logWithRequest(spdlog::level::err, job->id,
                   "giving up the report after " + std::to_string(job->report_attempts) +
                       " attempts: " + reply.describe());
  } else {
    logWithRequest(spdlog::level::err, job->id,
                   "the server refused the report: " + reply.describe());
  }
  finishJob(*job);
}

// Stops working on a request the server took back: no report will be sent. A running update
// command is killed; a skill read in progress finishes and is thrown away.
void Daemon::abandon(Job& job, const std::string& why) {
  job.state = Job::State::kAbandoned;
  job.cancel->store(true);
  if (job.extend_timer) job.extend_timer->stop();
  logWithRequest(spdlog::level::info, job.id, "stopping " + job.kind + ": " + why);
  if (!job.working) finishJob(job);
}

void Daemon::finishJob(Job& job) {
  if (job.extend_timer) job.extend_timer->stop();
  if (job.report_timer) job.report_timer->stop();
  client_.cancel(job.extend_call);
  client_.cancel(job.report_call);
  auto it = jobs_.find(job.key);
  finished_.push_back(std::move(it->second));
  jobs_.erase(it);
  // Not here: we may be inside one of the job's own timers.
  loop_.post([this] { finished_.clear(); });
  if (stopping_) {
    stopIfIdle();
  } else {
    claim();  // a no-op unless the claim loop was paused at capacity
  }
}

void Daemon::stopIfIdle() {
  if (jobs_.empty()) {
    spdlog::info("stopped");
    loop_.stop();
  }
}

void Daemon::shutdown() {
  if (stopping_) {
    spdlog::warn("second signal: abandoning {} requests in flight", jobs_.size());
    for (auto& [key, job] : jobs_) job->cancel->store(true);
    loop_.stop();
    return;
  }
  stopping_ = true;
  retry_timer_.stop();
  client_.cancel(claim_call_);
  client_.cancel(register_call_);
  claim_call_ = register_call_ = 0;
  if (!jobs_.empty()) {
    spdlog::info("stopping: finishing {} requests in flight (at most {} s)", jobs_.size(),
                 kShutdownGraceMs / 1000);
    grace_timer_.start(kShutdownGraceMs);
  }
  stopIfIdle();
}

}  // namespace courier::daemon
