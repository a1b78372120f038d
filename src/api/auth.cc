#include "courier/api/auth.h"

#include <openssl/crypto.h>

#include "courier/util/ids.h"
#include "courier/util/time.h"

namespace courier::api {
namespace {

std::optional<std::string> bearer(const http::Request& req, bool allow_query) {
  if (auto h = req.header("Authorization")) {
    constexpr std::string_view kPrefix = "Bearer ";
    if (h->size() > kPrefix.size() && h->substr(0, kPrefix.size()) == kPrefix) {
      return std::string(h->substr(kPrefix.size()));
    }
    return std::nullopt;
  }
  if (allow_query) {
    if (auto q = req.queryParam("access_token")) return std::string(*q);
  }
  return std::nullopt;
}

ApiResult<Caller> check(const TokenInfo& t, Caller::Kind want) {
  Caller c;
  c.kind = t.kind == TokenInfo::Kind::kDaemon ? Caller::Kind::kDaemon : Caller::Kind::kUser;
  c.workspace = t.workspace;
  c.user_id = t.user_id;
  if (c.kind != want) {
    return fail(apiError(Errc::kForbidden, "this token may not call this route"));
  }
  return c;
}

ApiError unauthorized() {
  return apiError(Errc::kUnauthorized, "missing, unknown or revoked bearer token");
}

}  // namespace

Auth::Auth(Store& store, std::string admin_token)
    : store_(store), admin_token_(std::move(admin_token)) {}

void Auth::authenticate(const http::Request& req, Caller::Kind want,
                        std::function<void(ApiResult<Caller>)> cb, bool allow_query) {
  auto token = bearer(req, allow_query);
  if (!token || token->empty()) return cb(fail(unauthorized()));
  if (token->size() == admin_token_.size() &&
      CRYPTO_memcmp(token->data(), admin_token_.data(), token->size()) == 0) {
    if (want != Caller::Kind::kAdmin) {
      return cb(fail(apiError(Errc::kForbidden, "the admin token may not call this route")));
    }
    return cb(Caller{Caller::Kind::kAdmin, "", ""});
  }
  // The cache is keyed by the token itself (it lives only in this process's memory, like the
  // request that carried it): a hit costs no SHA-256. Only a miss hashes and asks Redis.
  int64_t now = monotonicMs();
  if (auto it = cache_.find(*token); it != cache_.end() && it->second.expires_ms > now) {
    if (!it->second.info) return cb(fail(unauthorized()));
    return cb(check(*it->second.info, want));
  }
  store_.lookupToken(sha256Hex(*token), [this, token = *token, want, cb = std::move(cb)](
                                            ApiResult<std::optional<TokenInfo>> r) {
    if (!r) return cb(fail(r.error()));
    if (cache_.size() >= kCacheMax) cache_.clear();
    // Unknown tokens are not cached: a guessing client must not fill the cache.
    if (*r) cache_[token] = Cached{*r, monotonicMs() + kCacheMs};
    if (!*r) return cb(fail(unauthorized()));
    cb(check(**r, want));
  });
}

}  // namespace courier::api
