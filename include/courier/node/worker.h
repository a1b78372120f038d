// One worker: an event loop on its own thread with everything it serves from — an evhttp
// server on the shared SO_REUSEPORT port, one Redis command connection, one subscriber
// connection, its Waiters and handlers. Nothing is shared between workers but read-only
// configuration; requests are never handed across threads.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "courier/core/kinds.h"
#include "courier/core/metrics.h"
#include "courier/redis/endpoint.h"
#include "courier/redis/scripts.h"
#include "courier/util/result.h"

struct event_base;
struct event;

namespace courier::node {

class MetricsRegistry;

struct WorkerConfig {
  int index = 0;
  std::string node_id;
  std::string admin_token;
  int shutdown_grace_ms = 4500;  // SIGTERM: exit within 5 s whatever happens
};

class Worker {
 public:
  // `registry` serves /metrics for the whole node; it outlives the worker.
  Worker(WorkerConfig config, const KindTable& kinds, const redis::Endpoint& endpoint,
         const redis::ScriptRegistry& scripts, const MetricsRegistry& registry);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds the HTTP port (before start()). Returns the bound port.
  Result<int, std::string> bind(const std::string& host, int port, bool join);
  // Runs the loop on a new thread.
  void start();
  // Thread-safe: stop listening, answer every parked call with its current state, finish the
  // Redis work in flight, then leave the loop (within the grace period).
  void requestShutdown();
  // True while its Redis command connection is ready. Thread-safe.
  bool ready() const;
  const WorkerMetrics& metrics() const;
  std::vector<std::string> routeNames() const;
  void join();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace courier::node
