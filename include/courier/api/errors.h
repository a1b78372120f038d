// The one place where an error becomes an HTTP status.
#pragma once

#include "courier/core/errors.h"
#include "courier/http/responder.h"

namespace courier::api {

int httpStatus(Errc e);

// Answers {"error": message, "code": code} with the error's status (+ Retry-After on 503).
void sendError(http::Responder& res, const ApiError& err);
inline void sendError(http::Responder& res, Errc code, std::string message) {
  sendError(res, apiError(code, std::move(message)));
}

}  // namespace courier::api
