#include "courier/daemon/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "courier/util/ids.h"

namespace courier::daemon {
namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string hostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

// hostname-pid-random, cut to the consumer header's alphabet and length.
std::string defaultConsumer() {
  std::string host = hostName();
  for (char& c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '-';
  }
  if (host.size() > 40) host.resize(40);
  return host + "-" + std::to_string(getpid()) + "-" + randomId().substr(0, 8);
}

}  // namespace

std::vector<Model> parseModels(const std::string& spec) {
  std::vector<Model> models;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    std::string item = trim(spec.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    Model m;
    m.id = trim(item.substr(0, eq));
    m.label = eq == std::string::npos ? m.id : trim(item.substr(eq + 1));
    if (m.label.empty()) m.label = m.id;
    if (!m.id.empty()) models.push_back(std::move(m));
  }
  return models;
}

Result<std::vector<std::string>, std::string> splitCommand(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\\' && i + 1 < command.size()) {
      word += command[++i];
      in_word = true;
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return fail(std::string("unterminated quote"));
  if (in_word) words.push_back(std::move(word));
  return words;
}

Result<Config, std::string> parseConfig(int argc, char** argv, int* exit_code) {
  *exit_code = 2;
  Config c;
  c.provider = "local";
  std::string models, update_command, level = "info";
  CLI::App app{
      "courier-daemon: the reference Courier daemon. Registers its runtimes with a Courier node, "
      "long-polls for requests (ping, model_list, local_skill_list, local_skill_import, update) "
      "and answers them from its configuration and its skills folders, until SIGTERM/SIGINT."};
  app.get_formatter()->column_width(34);
  app.footer(
      "Every flag but --name and --provider can also come from the environment (shown above).\n"
      "Example:\n"
      "  courier-daemon --server http://127.0.0.1:8080 --token crt_... --runtime laptop \\\n"
      "      --owner alice --skills-dir ~/.claude/skills --models sonnet,opus\n"
      "A skills dir holds one folder per skill with a SKILL.md whose front matter gives name and\n"
      "description; the folders are read afresh for every request. Imports send the folder's\n"
      "text files (binary files and links leaving the folder are skipped); over 1 MiB a file,\n"
      "8 MiB in all, 256 files or 4 folders deep, the import fails.");
  app.add_option("--server", c.server, "URL of a Courier node or load balancer, http://HOST:PORT")
      ->envname("COURIER_SERVER")
      ->required();
  app.add_option("--token", c.token, "daemon token of the workspace (from the admin API)")
      ->envname("COURIER_TOKEN")
      ->required();
  app.add_option("--runtime", c.runtimes,
                 "runtime id to register and serve ([A-Za-z0-9_-]{1,64}); repeat for several "
                 "(COURIER_RUNTIME: comma-separated)")
      ->envname("COURIER_RUNTIME")
      ->delimiter(',')
      ->required();
  app.add_option("--owner", c.owner,
                 "user id that owns the runtimes (may import skills and run updates)")
      ->envname("COURIER_OWNER")
      ->required();
  app.add_option("--name", c.name,
                 "display name of the runtimes (default: the host name; with several runtimes "
                 "each gets \"NAME (ID)\")");
  app.add_option("--provider", c.provider,
                 "provider of the runtimes and of their skills, e.g. claude")
      ->capture_default_str();
  app.add_option("--skills-dir", c.skills_dirs,
                 "folder holding one folder per skill, each with a SKILL.md; repeat for several, "
                 "earlier dirs win on equal keys (COURIER_SKILLS_DIR: colon-separated)")
      ->envname("COURIER_SKILLS_DIR")
      ->delimiter(':');
  app.add_option("--models", models,
                 "models to offer, comma-separated; ID or ID=Label (e.g. "
                 "\"sonnet=Claude Sonnet,opus\"); none: model lists say supported: false")
      ->envname("COURIER_MODELS");
  app.add_option("--update-command", update_command,
                 "program run for an update request, with the target version appended as its "
                 "last argument (split into words, no shell); killed after 120 s; none: updates "
                 "fail with \"update not supported\"")
      ->envname("COURIER_UPDATE_COMMAND");
  app.add_option("--consumer", c.consumer,
                 "this daemon instance's id in claims, [A-Za-z0-9_.-]{1,64} (default: "
                 "HOSTNAME-PID-RANDOM)")
      ->envname("COURIER_CONSUMER");
  app.add_option("--log-level", level, "debug|info|warn|error")
      ->envname("COURIER_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    *exit_code = 0;
    return fail(app.help());
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + "\nRun with --help for more information.");
  }

  if (c.server.rfind("http://", 0) != 0) {
    return fail("--server must be an http:// URL, got \"" + c.server + "\"");
  }
  if (c.token.empty()) return fail(std::string("--token must not be empty"));
  std::vector<std::string> runtimes;
  for (std::string& rt : c.runtimes) {
    rt = trim(rt);
    if (rt.empty()) continue;
    if (!isValidId(rt)) return fail("--runtime \"" + rt + "\" must match [A-Za-z0-9_-]{1,64}");
    if (std::find(runtimes.begin(), runtimes.end(), rt) == runtimes.end()) runtimes.push_back(rt);
  }
  if (runtimes.empty()) return fail(std::string("--runtime: at least one runtime id is needed"));
  c.runtimes = std::move(runtimes);
  if (!isValidId(c.owner))
    return fail("--owner \"" + c.owner + "\" must match [A-Za-z0-9_-]{1,64}");
  if (c.name.empty()) c.name = hostName();
  std::vector<std::string> dirs;
  for (const std::string& d : c.skills_dirs) {
    if (trim(d).empty()) continue;
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(d, ec);
    dirs.push_back(ec ? d : abs.lexically_normal().native());
  }
  for (std::string& d : dirs) {
    if (d.size() > 1 && d.back() == '/') d.pop_back();
  }
  c.skills_dirs = std::move(dirs);
  c.models = parseModels(models);
  if (!trim(update_command).empty()) {
    auto words = splitCommand(update_command);
    if (!words) return fail("--update-command: " + words.error());
    c.update_command = std::move(*words);
  }
  if (c.consumer.empty()) c.consumer = defaultConsumer();
  if (!isValidConsumer(c.consumer)) {
    return fail("--consumer \"" + c.consumer + "\" must match [A-Za-z0-9_.-]{1,64}");
  }
  c.log_level = spdlog::level::from_str(level);
  return c;
}

}  // namespace courier::daemon
