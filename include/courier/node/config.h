// The node's configuration: flags, each with an environment variable (API.md "Running a node").
// A bad value stops the node at start with a message, never later.
#pragma once

#include <spdlog/common.h>

#include <string>

#include "courier/core/kinds.h"
#include "courier/util/log.h"
#include "courier/util/result.h"

namespace courier::node {

struct Config {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string redis_url;    // empty: start an embedded redis-server
  std::string admin_token;  // empty: generate one and print it once
  std::string node_id;
  std::string kinds;  // a JSON file, or inline JSON starting with '{'
  int workers = 0;    // 0: one per core
  spdlog::level::level_enum log_level = spdlog::level::info;
  LogFormat log_format = LogFormat::kText;
};

// Parses argv and the COURIER_* environment. Returns the message to print (and exit 2) on a bad
// value; `--help` is returned as an error whose message is the help text, with *exit_code 0.
Result<Config, std::string> parseConfig(int argc, char** argv, int* exit_code);

// The kind table with the --kinds overrides applied.
Result<KindTable, std::string> loadKinds(const Config& config);

}  // namespace courier::node
