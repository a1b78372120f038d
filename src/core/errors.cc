#include "courier/core/errors.h"

namespace courier {

std::string_view errcCode(Errc e) {
  switch (e) {
    case Errc::kInvalidBody:
      return "invalid_body";
    case Errc::kInvalidQuery:
      return "invalid_query";
    case Errc::kInvalidId:
      return "invalid_id";
    case Errc::kInvalidConsumer:
      return "invalid_consumer";
    case Errc::kInvalidIdempotencyKey:
      return "invalid_idempotency_key";
    case Errc::kUnknownKind:
      return "unknown_kind";
    case Errc::kInvalidPayload:
      return "invalid_payload";
    case Errc::kUnauthorized:
      return "unauthorized";
    case Errc::kForbidden:
      return "forbidden";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kMethodNotAllowed:
      return "method_not_allowed";
    case Errc::kLeaseLost:
      return "lease_lost";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kUpdateInProgress:
      return "update_in_progress";
    case Errc::kIdempotencyKeyReused:
      return "idempotency_key_reused";
    case Errc::kConflict:
      return "conflict";
    case Errc::kBodyTooLarge:
      return "body_too_large";
    case Errc::kQueueFull:
      return "queue_full";
    case Errc::kInternal:
      return "internal";
    case Errc::kStoreError:
      return "store_error";
    case Errc::kStoreUnavailable:
      return "store_unavailable";
    case Errc::kRuntimeOffline:
      return "runtime_offline";
    case Errc::kShuttingDown:
      return "shutting_down";
  }
  return "internal";
}

}  // namespace courier
