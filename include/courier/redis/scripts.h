// The Lua scripts of lua/, embedded in the binary at build time (scripts/embed-lua).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace courier::redis {

struct ScriptSource {
  const char* name;    // file name without ".lua", e.g. "claim"
  const char* source;  // the script text
};

// Generated into build/gen/lua_scripts.cc.
const std::vector<ScriptSource>& embeddedScripts();

// Name → source and SHA1, computed once. Immutable after construction: shared read-only by all
// workers.
class ScriptRegistry {
 public:
  struct Script {
    std::string name;
    std::string source;
    std::string sha1;  // lowercase hex, as SCRIPT LOAD returns it
  };

  explicit ScriptRegistry(const std::vector<ScriptSource>& sources = embeddedScripts());

  const Script* find(std::string_view name) const;
  const std::vector<Script>& all() const { return scripts_; }

 private:
  std::vector<Script> scripts_;
};

}  // namespace courier::redis
