// Every error a caller can see, in one place. The HTTP status of each is decided in exactly one
// function (api/errors.h); the snake_case code here is what clients match on.
#pragma once

#include <string>
#include <string_view>

#include "courier/util/result.h"

namespace courier {

enum class Errc {
  kInvalidBody,            // 400
  kInvalidQuery,           // 400
  kInvalidId,              // 400
  kInvalidConsumer,        // 400
  kInvalidIdempotencyKey,  // 400
  kUnknownKind,            // 400
  kInvalidPayload,         // 400
  kUnauthorized,           // 401
  kForbidden,              // 403
  kNotFound,               // 404
  kMethodNotAllowed,       // 405
  kLeaseLost,              // 409
  kCancelled,              // 409
  kUpdateInProgress,       // 409
  kIdempotencyKeyReused,   // 409
  kConflict,               // 409
  kBodyTooLarge,           // 413
  kQueueFull,              // 429
  kInternal,               // 500
  kStoreError,             // 500: a store write failed (or its outcome is unknown)
  kStoreUnavailable,       // 503: Redis is not reachable; retry later
  kRuntimeOffline,         // 503
  kShuttingDown,           // 503
};

std::string_view errcCode(Errc e);

using ApiError = Error<Errc>;

template <class T>
using ApiResult = Result<T, ApiError>;

inline ApiError apiError(Errc code, std::string message) { return {code, std::move(message)}; }

}  // namespace courier
