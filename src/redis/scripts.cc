#include "courier/redis/scripts.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace courier::redis {

namespace {

// SHA1 as lowercase hex, the form SCRIPT LOAD returns and EVALSHA takes. EVP rather than SHA1():
// the low-level digest functions are deprecated in OpenSSL 3.
std::string sha1Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha1) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xf]);
  }
  return hex;
}

}  // namespace

// Runs once per process at start, before any worker: throwing here (a duplicate name, a broken
// libcrypto) stops the node before it serves anything.
ScriptRegistry::ScriptRegistry(const std::vector<ScriptSource>& sources) {
  scripts_.reserve(sources.size());
  for (const ScriptSource& s : sources) {
    if (find(s.name) != nullptr) {
      throw std::invalid_argument(std::string("duplicate script name: ") + s.name);
    }
    scripts_.push_back(Script{s.name, s.source, sha1Hex(s.source)});
  }
}

// A linear scan: there are a handful of scripts, and it keeps the header's layout.
const ScriptRegistry::Script* ScriptRegistry::find(std::string_view name) const {
  for (const Script& s : scripts_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace courier::redis
