#include "courier/bench/redis_probe.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <sstream>

namespace courier::bench {
namespace {

std::string replyText(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out += '\n';
        out += replyText(r->element[i]);
      }
      return out;
    }
    default:
      return "";
  }
}

// "key:value" → value as an integer, or the `calls=N` of a commandstats line; 0 if absent.
int64_t field(const std::string& info, const std::string& key) {
  const std::string needle = "\n" + key + ":";
  const size_t at = ("\n" + info).find(needle);
  if (at == std::string::npos) return 0;
  return std::strtoll(info.c_str() + at + key.size() + 1, nullptr, 10);
}

int64_t fieldUs(const std::string& info, const std::string& key) {
  const std::string needle = "\n" + key + ":";
  const size_t at = ("\n" + info).find(needle);
  if (at == std::string::npos) return 0;
  return static_cast<int64_t>(std::strtod(info.c_str() + at + key.size() + 1, nullptr) * 1e6);
}

}  // namespace

RedisProbe::RedisProbe(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

RedisProbe::~RedisProbe() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

bool RedisProbe::connect() {
  if (ctx_ != nullptr) return true;
  timeval tv{5, 0};
  ctx_ = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv);
  if (ctx_ == nullptr || ctx_->err != 0) {
    error_ = ctx_ != nullptr ? ctx_->errstr : "redisConnect failed";
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
    return false;
  }
  redisSetTimeout(ctx_, tv);
  return true;
}

std::optional<std::string> RedisProbe::command(const std::vector<std::string>& argv) {
  if (!connect()) return std::nullopt;
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  ++own_commands_;
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()));
  if (reply == nullptr) {
    error_ = ctx_->errstr;
    redisFree(ctx_);
    ctx_ = nullptr;
    return std::nullopt;
  }
  std::string text = replyText(reply);
  const bool is_error = reply->type == REDIS_REPLY_ERROR;
  freeReplyObject(reply);
  if (is_error) {
    error_ = text;
    return std::nullopt;
  }
  return text;
}

std::optional<RedisSnapshot> RedisProbe::snapshot() {
  // One INFO call for every section we need, so the counters are read at one instant.
  const auto info = command({"INFO", "everything"});
  if (!info) return std::nullopt;
  RedisSnapshot s;
  std::istringstream lines(*info);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // cmdstat_evalsha:calls=6,usec=995,...
    if (line.rfind("cmdstat_", 0) != 0) continue;
    const size_t colon = line.find(':');
    const size_t calls = line.find("calls=", colon);
    if (colon == std::string::npos || calls == std::string::npos) continue;
    const int64_t n = std::strtoll(line.c_str() + calls + 6, nullptr, 10);
    s.calls[line.substr(8, colon - 8)] = n;
    s.total_calls += n;
  }
  s.total_commands_processed = field(*info, "total_commands_processed");
  s.cpu_us = fieldUs(*info, "used_cpu_sys") + fieldUs(*info, "used_cpu_user");
  s.connected_clients = field(*info, "connected_clients");
  s.used_memory = field(*info, "used_memory");
  return s;
}

RedisDelta diff(const RedisSnapshot& before, const RedisSnapshot& after, int64_t own_commands) {
  RedisDelta d;
  for (const auto& [name, n] : after.calls) {
    const auto it = before.calls.find(name);
    const int64_t delta = n - (it == before.calls.end() ? 0 : it->second);
    if (delta > 0) d.by_command[name] = delta;
  }
  // The probe's own INFO calls are not load.
  if (auto it = d.by_command.find("info"); it != d.by_command.end()) {
    it->second -= own_commands;
    if (it->second <= 0) d.by_command.erase(it);
  }
  for (const auto& [name, n] : d.by_command) {
    d.calls += n;
    if (name == "evalsha" || name == "eval" || name == "fcall" || name == "evalsha_ro" ||
        name == "eval_ro" || name == "fcall_ro") {
      d.script_calls += n;
    }
  }
  d.cpu_us = after.cpu_us - before.cpu_us;
  return d;
}

}  // namespace courier::bench
