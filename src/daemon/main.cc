// courier-daemon: wires the configuration, logging, the loop, the signals and the Daemon.
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>

#include <cstdio>

#include "courier/daemon/config.h"
#include "courier/daemon/daemon.h"
#include "courier/daemon/loop.h"
#include "courier/daemon/server_client.h"
#include "courier/util/log.h"

using namespace courier;

namespace {

void onSignal(evutil_socket_t sig, short, void* arg) noexcept {
  spdlog::info("signal {}: stopping", static_cast<int>(sig));
  static_cast<daemon::Daemon*>(arg)->shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 2;
  auto config = daemon::parseConfig(argc, argv, &exit_code);
  if (!config) {
    std::fprintf(exit_code == 0 ? stdout : stderr, "%s\n", config.error().c_str());
    return exit_code;
  }
  auto url = daemon::parseServerUrl(config->server);
  if (!url) {
    std::fprintf(stderr, "%s\n", url.error().c_str());
    return 2;
  }
  setupLogging("daemon", config->log_level, LogFormat::kText);
  evthread_use_pthreads();  // worker threads post to the loop
  signal(SIGPIPE, SIG_IGN);

  daemon::Loop loop;
  int code = 0;
  {
    daemon::Daemon d(loop, std::move(*config), std::move(*url));
    event* term = evsignal_new(loop.base(), SIGTERM, onSignal, &d);
    event* intr = evsignal_new(loop.base(), SIGINT, onSignal, &d);
    evsignal_add(term, nullptr);
    evsignal_add(intr, nullptr);
    d.start();
    loop.run();
    event_free(term);
    event_free(intr);
    code = d.exitCode();
  }
  return code;
}
