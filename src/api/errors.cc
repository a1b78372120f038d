#include "courier/api/errors.h"

#include "courier/http/router.h"

namespace courier::api {

int httpStatus(Errc e) {
  switch (e) {
    case Errc::kInvalidBody:
    case Errc::kInvalidQuery:
    case Errc::kInvalidId:
    case Errc::kInvalidConsumer:
    case Errc::kInvalidIdempotencyKey:
    case Errc::kUnknownKind:
    case Errc::kInvalidPayload:
      return 400;
    case Errc::kUnauthorized:
      return 401;
    case Errc::kForbidden:
      return 403;
    case Errc::kNotFound:
      return 404;
    case Errc::kMethodNotAllowed:
      return 405;
    case Errc::kLeaseLost:
    case Errc::kCancelled:
    case Errc::kUpdateInProgress:
    case Errc::kIdempotencyKeyReused:
    case Errc::kConflict:
      return 409;
    case Errc::kBodyTooLarge:
      return 413;
    case Errc::kQueueFull:
      return 429;
    case Errc::kInternal:
    case Errc::kStoreError:
      return 500;
    case Errc::kStoreUnavailable:
    case Errc::kRuntimeOffline:
    case Errc::kShuttingDown:
      return 503;
  }
  return 500;
}

void sendError(http::Responder& res, const ApiError& err) {
  int status = httpStatus(err.code);
  std::vector<std::pair<std::string, std::string>> headers;
  if (err.code == Errc::kStoreUnavailable || err.code == Errc::kShuttingDown) {
    headers.emplace_back("Retry-After", "1");
  } else if (err.code == Errc::kQueueFull) {
    headers.emplace_back("Retry-After", "5");
  }
  res.send(status, http::errorBody(errcCode(err.code), err.message), headers);
}

}  // namespace courier::api
