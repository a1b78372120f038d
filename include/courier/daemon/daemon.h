// The daemon proper: registers its runtimes, long-polls for requests, runs each one, keeps its
// lease, reports its result, and rides out a server that comes and goes.
//
// Life of a request here: Daemon::claim → onClaim → startJob (an inline kind is answered on the
// spot; the others extend the lease at once and go to a worker thread running handleRequest)
// → onWorkDone → sendReport → onReport → finishJob.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "courier/daemon/config.h"
#include "courier/daemon/handlers.h"
#include "courier/daemon/loop.h"
#include "courier/daemon/server_client.h"
#include "courier/util/json.h"

namespace courier::daemon {

// Timings (ms unless said otherwise).
inline constexpr int kClaimWaitS = 30;           // the long-poll's wait
inline constexpr int kMaxInFlight = 32;          // requests worked on at once
inline constexpr int kClaimMax = 10;             // requests taken per claim
inline constexpr int64_t kExtendEveryMs = 5000;  // lease extension (and cancellation check)
inline constexpr int64_t kBackoffMinMs = 500;    // reconnect backoff: doubling, jittered, capped
inline constexpr int64_t kBackoffMaxMs = 30000;
inline constexpr int64_t kShutdownGraceMs = 10000;  // SIGTERM: in-flight work gets this long
// Waits before each report attempt: the first at once, then retries after 0, 0.5, 2 and 4 s on
// a 5xx or a network error (COMPAT.md "Daemon side").
inline constexpr int64_t kReportDelaysMs[] = {0, 0, 500, 2000, 4000};

// Owns its jobs and their worker threads. Loop thread only (worker threads only post to the
// loop). Destroy it before the Loop: the destructor cancels what still runs and joins the threads.
class Daemon {
 public:
  Daemon(Loop& loop, Config config, ServerUrl url);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Registers the runtimes (retrying while the server is away), then claims until shutdown().
  void start();
  // First call: stop claiming, let in-flight requests finish and report for up to
  // kShutdownGraceMs, then stop the loop. A second call abandons them at once.
  void shutdown();
  // 0, or 1 after a fatal error (the server refused the registration).
  int exitCode() const { return exit_code_; }

 private:
  struct Job {
    enum class State { kWorking, kReporting, kAbandoned };
    std::string key;  // "ID#ATTEMPT"
    std::string id;
    std::string runtime_id;
    std::string kind;
    std::string payload;
    int64_t attempt = 0;
    int64_t started_ms = 0;
    State state = State::kWorking;
    // Shared with the worker thread, which only reads it (it stops an update command).
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    std::thread worker;
    bool working = false;  // a worker thread is running (its onWorkDone is still to come)
    std::unique_ptr<Timer> extend_timer;
    std::unique_ptr<Timer> report_timer;
    ServerClient::CallId extend_call = 0;
    ServerClient::CallId report_call = 0;
    Outcome outcome;
    std::string report_body;
    size_t report_attempts = 0;
  };

  void registerRuntimes();
  void registerNext();
  void onRegistered(const HttpReply& reply);
  void claim();
  void onClaim(const HttpReply& reply);
  void retryLater(void (Daemon::*step)());
  void serverAway(const HttpReply& reply, const char* what);
  void serverBack();

  void startJob(const rapidjson::Value& request);
  Job* find(const std::string& key);
  void onWorkDone(const std::string& key, Outcome outcome);
  void sendExtend(Job& job);
  void onExtend(const std::string& key, const HttpReply& reply);
  void sendReport(Job& job);
  void onReport(const std::string& key, const HttpReply& reply);
  void abandon(Job& job, const std::string& why);
  void finishJob(Job& job);
  void stopIfIdle();

  Loop& loop_;
  const Config config_;
  ServerUrl url_;
  ServerClient client_;
  int exit_code_ = 0;
  bool stopping_ = false;
  bool claiming_ = false;  // registered: the claim loop runs
  size_t registered_ = 0;  // runtimes registered in the current round
  ServerClient::CallId register_call_ = 0;
  ServerClient::CallId claim_call_ = 0;
  Timer retry_timer_;  // backoff before the next registration or claim
  void (Daemon::*retry_step_)() = nullptr;
  int backoff_attempt_ = 0;
  bool away_ = false;  // the server is unreachable (logged once per outage)
  Timer grace_timer_;
  std::unordered_map<std::string, std::unique_ptr<Job>> jobs_;
  std::vector<std::unique_ptr<Job>> finished_;  // destroyed at a later turn, never in a callback
};

}  // namespace courier::daemon
