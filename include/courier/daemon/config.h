// courier-daemon's command line (API.md "Running the reference daemon").
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "courier/util/result.h"

namespace courier::daemon {

struct Model {
  std::string id;
  std::string label;
};

struct Config {
  std::string server;  // "http://127.0.0.1:8080"
  std::string token;
  std::vector<std::string> runtimes;
  std::string owner;
  std::string name;                      // display name of the runtimes ("" = the host name)
  std::string provider;                  // runtime provider, also each skill's provider
  std::vector<std::string> skills_dirs;  // absolute
  std::vector<Model> models;
  std::vector<std::string> update_command;  // argv, "" = updates not supported
  std::string consumer;
  spdlog::level::level_enum log_level = spdlog::level::info;
};

// Parses argv (and the COURIER_* environment). On `--help` the error is the help text and
// *exit_code is 0; on a bad command line it is the message and *exit_code is 2.
Result<Config, std::string> parseConfig(int argc, char** argv, int* exit_code);

// "a,b=Label B, c" → [{a,a}, {b,"Label B"}, {c,c}].
std::vector<Model> parseModels(const std::string& spec);

// Splits a command line into words without a shell: whitespace separates, '…' and "…" quote,
// a backslash escapes the next character (outside single quotes). Error on an open quote.
Result<std::vector<std::string>, std::string> splitCommand(const std::string& command);

}  // namespace courier::daemon
