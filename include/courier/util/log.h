// Logging setup: spdlog to stderr, text or one JSON object per line.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace courier {

enum class LogFormat { kText, kJson };

// Installs the default logger. `node` is stamped on every line. In JSON each line is
// {"time","level","node","msg"} (+ "request_id" when the message is logged with logWithRequest).
void setupLogging(const std::string& node, spdlog::level::level_enum level, LogFormat format);

// Logs `msg` tagged with a request id (a `request_id` field in JSON, a "[req ID]" prefix in text).
void logWithRequest(spdlog::level::level_enum level, const std::string& request_id,
                    const std::string& msg);

}  // namespace courier
