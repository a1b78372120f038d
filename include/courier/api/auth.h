// Who is calling. Tokens are stored only as their SHA-256; each worker keeps a short cache of
// look-ups (2 s) so a busy caller costs no Redis round trip per call, while a revoked token
// still stops working on every node within the API's 5 s.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "courier/core/errors.h"
#include "courier/core/store.h"
#include "courier/http/request.h"

namespace courier::api {

struct Caller {
  enum class Kind { kAdmin, kUser, kDaemon };
  Kind kind = Kind::kUser;
  std::string workspace;  // user and daemon tokens
  std::string user_id;    // user tokens
};

class Auth {
 public:
  static constexpr int64_t kCacheMs = 2000;
  static constexpr size_t kCacheMax = 10000;

  Auth(Store& store, std::string admin_token);

  // Resolves the bearer token (or `?access_token=` when `allow_query`) and checks its kind is
  // `want`: 401 unauthorized if missing/unknown/revoked, 403 forbidden if of another kind.
  void authenticate(const http::Request& req, Caller::Kind want,
                    std::function<void(ApiResult<Caller>)> cb, bool allow_query = false);

 private:
  struct Cached {
    std::optional<TokenInfo> info;
    int64_t expires_ms = 0;
  };
  Store& store_;
  std::string admin_token_;
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace courier::api
