#include "courier/util/log.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <memory>
#include <string_view>

#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier {
namespace {

// The request id of the line being logged on this thread, set only for the duration of one
// logWithRequest call. The logger is synchronous, so the formatter runs on the logging thread
// before the call returns and sees exactly the id of its own line.
thread_local const std::string* t_request_id = nullptr;

// Our own names: spdlog says "warning", while the flag and the docs say "warn".
std::string_view levelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

std::string timeOf(const spdlog::details::log_msg& msg) {
  using namespace std::chrono;
  return formatRfc3339Ms(duration_cast<milliseconds>(msg.time.time_since_epoch()).count());
}

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

// "2026-12-04T15:55:32.123Z info [node] [req ID] message". Time in UTC, whatever the host's zone,
// so lines from several nodes line up.
class TextFormatter final : public spdlog::formatter {
 public:
  explicit TextFormatter(std::string node) : node_(std::move(node)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    append(dest, timeOf(msg));
    append(dest, " ");
    append(dest, levelName(msg.level));
    append(dest, " [");
    append(dest, node_);
    append(dest, "] ");
    if (t_request_id != nullptr) {
      append(dest, "[req ");
      append(dest, *t_request_id);
      append(dest, "] ");
    }
    append(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    append(dest, "\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>(node_);
  }

 private:
  const std::string node_;
};

// One JSON object per line: {"time","level","node","msg"[,"request_id"]}. Every string goes through
// appendJsonString, so a message with quotes, newlines or stray bytes cannot break the line.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string node) : node_(std::move(node)) {
    appendJsonString(quoted_node_, node_);
  }

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"time\":\"" + timeOf(msg) + "\",\"level\":\"";
    line += levelName(msg.level);
    line += "\",\"node\":";
    line += quoted_node_;
    line += ",\"msg\":";
    appendJsonString(line, std::string_view(msg.payload.data(), msg.payload.size()));
    if (t_request_id != nullptr) {
      line += ",\"request_id\":";
      appendJsonString(line, *t_request_id);
    }
    line += "}\n";
    append(dest, line);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(node_);
  }

 private:
  const std::string node_;
  std::string quoted_node_;
};

}  // namespace

void setupLogging(const std::string& node, spdlog::level::level_enum level, LogFormat format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(node, std::move(sink));
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>(node));
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>(node));
  }
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

void logWithRequest(spdlog::level::level_enum level, const std::string& request_id,
                    const std::string& msg) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  const std::string* previous = t_request_id;
  t_request_id = &request_id;
  // The string_view overload: the message is logged verbatim, never read as a format string.
  logger->log(spdlog::source_loc{}, level, spdlog::string_view_t(msg.data(), msg.size()));
  t_request_id = previous;
}

}  // namespace courier
