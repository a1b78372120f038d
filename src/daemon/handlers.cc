#include "courier/daemon/handlers.h"

#include <exception>

#include "courier/daemon/command.h"
#include "courier/daemon/skills.h"
#include "courier/util/json.h"
#include "courier/util/time.h"

namespace courier::daemon {
namespace {

Outcome completed(std::string result, std::string summary) {
  return {true, std::move(result), "", std::move(summary)};
}

Outcome failed(std::string error) {
  Outcome o;
  o.error = std::move(error);
  o.summary = o.error;
  return o;
}

// A string field of the payload, or nullptr if it is absent or not a string.
const rapidjson::Value* stringField(const rapidjson::Document& doc, const char* name) {
  if (!doc.IsObject()) return nullptr;
  auto it = doc.FindMember(name);
  return it != doc.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
}

Outcome ping() {
  std::string result;
  {
    JsonObjectWriter w(result);
    w.raw("pong", "true");
    w.time("time", nowUnixMs());
  }
  return completed(std::move(result), "pong");
}

Outcome modelList(const Config& config) {
  std::string models = "[";
  for (size_t i = 0; i < config.models.size(); ++i) {
    if (i > 0) models += ',';
    JsonObjectWriter m(models);
    m.str("id", config.models[i].id);
    m.str("label", config.models[i].label);
  }
  models += ']';
  std::string result;
  {
    JsonObjectWriter w(result);
    w.raw("models", models);
    w.raw("supported", config.models.empty() ? "false" : "true");
  }
  return completed(std::move(result), std::to_string(config.models.size()) + " models");
}

Outcome skillList(const Config& config) {
  auto skills = listSkills(config.skills_dirs);
  return completed(skillListJson(skills, config.provider),
                   std::to_string(skills.size()) + " skills");
}

Outcome skillImport(const rapidjson::Document& payload, const Config& config) {
  const rapidjson::Value* key = stringField(payload, "skill_key");
  if (key == nullptr) return failed("payload.skill_key is missing");
  auto bundle = loadSkill(config.skills_dirs, key->GetString());
  if (!bundle) return failed(bundle.error().message);
  std::string summary = "skill " + bundle->key + ": " + std::to_string(bundle->files.size()) +
                        " files besides SKILL.md";
  if (!bundle->skipped.empty()) {
    summary += "; skipped";
    for (size_t i = 0; i < bundle->skipped.size() && i < 10; ++i) {
      summary += (i ? ", " : " ") + bundle->skipped[i];
    }
    if (bundle->skipped.size() > 10) {
      summary += " and " + std::to_string(bundle->skipped.size() - 10) + " more";
    }
  }
  return completed(skillBundleJson(*bundle, config.provider), std::move(summary));
}

bool isSafeVersion(const std::string& v) {
  if (v.empty() || v.size() > 128 || v[0] == '-') return false;
  for (char c : v) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '+' && c != '~') {
      return false;
    }
  }
  return true;
}

// The last `max` bytes of `s`, starting on a UTF-8 character boundary.
std::string tail(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t from = s.size() - max;
  while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) ++from;
  return s.substr(from);
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

Outcome update(const rapidjson::Document& payload, const Config& config,
               const std::atomic<bool>* cancel) {
  if (config.update_command.empty()) return failed("update not supported");
  const rapidjson::Value* version = stringField(payload, "target_version");
  if (version == nullptr) return failed("payload.target_version is missing");
  const std::string target = version->GetString();
  if (!isSafeVersion(target)) {
    return failed(
        "invalid target_version: letters, digits and . _ - + ~ only, not starting "
        "with '-'");
  }
  std::vector<std::string> argv = config.update_command;
  argv.push_back(target);
  CommandOutcome run = runCommand(argv, kUpdateTimeoutMs, kUpdateOutputBytes, cancel);
  if (!run.started) return failed(run.error);
  std::string output = run.output;
  if (run.dropped > 0) {
    output = "[" + std::to_string(run.dropped) + " bytes of earlier output dropped]\n" + output;
  }
  std::string result;
  JsonObjectWriter(result).str("output", output);
  const std::string last = trimmed(tail(run.output, kUpdateErrorTailBytes));
  Outcome o;
  o.result = std::move(result);
  if (run.exit_code == 0 && !run.timed_out && !run.cancelled) {
    o.ok = true;
    o.summary = "update to " + target + ": exit status 0";
    return o;
  }
  if (run.timed_out) {
    o.error = "update command timed out after " + std::to_string(kUpdateTimeoutMs / 1000) + " s";
  } else if (run.cancelled) {
    o.error = "update command stopped: the request was cancelled";
  } else if (run.exit_code > 128) {
    o.error = "update command killed by signal " + std::to_string(run.exit_code - 128);
  } else {
    o.error = "update command exited with status " + std::to_string(run.exit_code);
  }
  if (!last.empty()) o.error += ": " + last;
  o.summary = o.error.substr(0, o.error.find('\n'));
  return o;
}

}  // namespace

bool answersInline(const std::string& kind) {
  return kind != "local_skill_list" && kind != "local_skill_import" && kind != "update";
}

Outcome handleRequest(const std::string& kind, const std::string& payload_json,
                      const Config& config, const std::atomic<bool>* cancel) {
  try {
    rapidjson::Document payload;
    if (!payload_json.empty() && !parseJson(payload_json, payload)) payload.SetObject();
    if (kind == "ping") return ping();
    if (kind == "model_list") return modelList(config);
    if (kind == "local_skill_list") return skillList(config);
    if (kind == "local_skill_import") return skillImport(payload, config);
    if (kind == "update") return update(payload, config, cancel);
    return failed("unsupported request kind: " + kind);
  } catch (const std::exception& e) {
    return failed(std::string("internal error: ") + e.what());
  }
}

}  // namespace courier::daemon
