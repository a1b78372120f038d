// courier: wires configuration, logging, the embedded Redis, the workers and the signals.
#include <event2/thread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "courier/node/config.h"
#include "courier/node/embedded_redis.h"
#include "courier/node/metrics_registry.h"
#include "courier/node/worker.h"
#include "courier/redis/endpoint.h"
#include "courier/redis/scripts.h"
#include "courier/util/ids.h"
#include "courier/util/log.h"

using namespace courier;

int main(int argc, char** argv) {
  int exit_code = 2;
  auto config = node::parseConfig(argc, argv, &exit_code);
  if (!config) {
    std::fprintf(exit_code == 0 ? stdout : stderr, "%s\n", config.error().c_str());
    return exit_code;
  }
  setupLogging(config->node_id, config->log_level, config->log_format);
  auto kinds = node::loadKinds(*config);
  if (!kinds) {
    spdlog::critical("{}", kinds.error());
    return 2;
  }
  // Signals are taken by sigwait below, on this thread only; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every parked long-poll holds a socket: take all the descriptors the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  node::EmbeddedRedis embedded;
  if (config->redis_url.empty()) {
    if (auto ok = embedded.start(); !ok) {
      spdlog::critical("embedded Redis: {}", ok.error());
      return 1;
    }
    config->redis_url = embedded.url();
    spdlog::info("no --redis-url: started a private redis-server at {}", config->redis_url);
  }
  auto endpoint = redis::parseEndpoint(config->redis_url);
  if (!endpoint) {
    spdlog::critical("--redis-url: {}", endpoint.error());
    return 2;
  }
  if (config->admin_token.empty()) {
    config->admin_token = randomToken();
    auto level = spdlog::default_logger()->level();
    spdlog::default_logger()->set_level(spdlog::level::info);
    spdlog::info("no --admin-token: generated admin token: {}", config->admin_token);
    spdlog::default_logger()->set_level(level);
  }

  evthread_use_pthreads();
  redis::ScriptRegistry scripts;
  node::MetricsRegistry registry;
  std::vector<std::unique_ptr<node::Worker>> workers;
  int port = config->listen_port;
  for (int i = 0; i < config->workers; ++i) {
    node::WorkerConfig wc{i, config->node_id, config->admin_token};
    workers.push_back(std::make_unique<node::Worker>(wc, *kinds, *endpoint, scripts, registry));
    registry.addWorker(&workers.back()->metrics());
    auto bound = workers.back()->bind(config->listen_host, port, /*join=*/i > 0);
    if (!bound) {
      spdlog::critical("cannot listen on {}:{}: {}", config->listen_host, port, bound.error());
      return 1;
    }
    port = *bound;  // with port 0, the others bind the port the first one got
  }
  registry.setRoutes(workers.front()->routeNames());
  for (auto& w : workers) w->start();
  // "listening on" means ready to serve: wait (bounded) for every worker's Redis handshake.
  // A node whose Redis is down still serves (503 store_unavailable) and says so.
  auto all_ready = [&] {
    for (auto& w : workers) {
      if (!w->ready()) return false;
    }
    return true;
  };
  for (int i = 0; i < 500 && !all_ready(); ++i) usleep(10 * 1000);
  if (!all_ready())
    spdlog::warn("Redis at {} is not ready yet; serving 503 until it is", endpoint->describe());
  {
    auto level = spdlog::default_logger()->level();
    spdlog::default_logger()->set_level(spdlog::level::info);
    spdlog::info("listening on {}:{} ({} workers, Redis {})", config->listen_host, port,
                 workers.size(), endpoint->describe());
    spdlog::default_logger()->set_level(level);
  }

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping", sig);
  for (auto& w : workers) w->requestShutdown();
  for (auto& w : workers) w->join();
  workers.clear();
  embedded.stop();
  spdlog::info("stopped");
  return 0;
}
