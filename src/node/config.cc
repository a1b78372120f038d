#include "courier/node/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "courier/util/ids.h"

namespace courier::node {
namespace {

Result<std::pair<std::string, int>, std::string> parseListen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return fail("--listen must be HOST:PORT, got \"" + s + "\"");
  }
  std::string host = s.substr(0, colon);
  std::string port_s = s.substr(colon + 1);
  if (port_s.empty() || port_s.find_first_not_of("0123456789") != std::string::npos ||
      port_s.size() > 5 || std::stoi(port_s) > 65535) {
    return fail("--listen port must be 0-65535, got \"" + port_s + "\"");
  }
  return std::pair{host, std::stoi(port_s)};
}

}  // namespace

Result<Config, std::string> parseConfig(int argc, char** argv, int* exit_code) {
  *exit_code = 2;
  Config c;
  std::string listen = "127.0.0.1:8080", level = "info", format = "text";
  CLI::App app{"courier: a request broker between web frontends and remote daemons"};
  app.add_option("--listen", listen, "HOST:PORT to serve HTTP on (port 0: any free port)")
      ->envname("COURIER_LISTEN")
      ->capture_default_str();
  app.add_option("--redis-url", c.redis_url,
                 "redis://HOST:PORT[/DB] or unix:///PATH; empty: start a private redis-server")
      ->envname("COURIER_REDIS_URL");
  app.add_option("--admin-token", c.admin_token,
                 "token of the admin API; empty: generate one and print it once")
      ->envname("COURIER_ADMIN_TOKEN");
  app.add_option("--node-id", c.node_id, "name of this node in logs (default: host-pid)")
      ->envname("COURIER_NODE_ID");
  app.add_option("--kinds", c.kinds,
                 "JSON file (or inline JSON) overriding the kind table, e.g. "
                 "{\"ping\": {\"claim_lease_ms\": 500}}")
      ->envname("COURIER_KINDS");
  app.add_option("--workers", c.workers, "event loops sharing the port (default: one per core)")
      ->envname("COURIER_WORKERS")
      ->check(CLI::Range(1, 256));
  app.add_option("--log-level", level, "debug|info|warn|error")
      ->envname("COURIER_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", format, "text|json")
      ->envname("COURIER_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    *exit_code = 0;
    return fail(app.help());
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()));
  }
  auto hp = parseListen(listen);
  if (!hp) return fail(hp.error());
  c.listen_host = hp->first;
  c.listen_port = hp->second;
  c.log_level = spdlog::level::from_str(level);
  c.log_format = format == "json" ? LogFormat::kJson : LogFormat::kText;
  if (c.workers == 0) c.workers = std::max(1u, std::thread::hardware_concurrency());
  if (c.node_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    c.node_id = std::string(host) + "-" + std::to_string(getpid());
  }
  return c;
}

Result<KindTable, std::string> loadKinds(const Config& config) {
  KindTable kinds = KindTable::builtin();
  if (config.kinds.empty()) return kinds;
  std::string text = config.kinds;
  if (text.find_first_not_of(" \t\r\n") != std::string::npos &&
      text[text.find_first_not_of(" \t\r\n")] != '{') {
    std::ifstream in(config.kinds);
    if (!in) return fail("--kinds: cannot read " + config.kinds);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  if (auto ok = kinds.applyOverrides(text); !ok) return fail(ok.error());
  return kinds;
}

}  // namespace courier::node
