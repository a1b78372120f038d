// Operations routes (no token): liveness, readiness and metrics.
#include "courier/api/context.h"

namespace courier::api {

void addOpsRoutes(http::Router& router, Context& ctx) {
  router.add(http::Method::kGet, "/healthz", "healthz",
             [](http::Request&&, http::Params&&, http::Responder&& res) {
               res.send(200, "{\"status\":\"ok\"}");
             });
  // Ready: the command connection answered PING and loaded every script, and the subscriber
  // is connected (without it no long-poll would ever be woken).
  router.add(http::Method::kGet, "/readyz", "readyz",
             [&ctx](http::Request&&, http::Params&&, http::Responder&& res) {
               bool store = ctx.redis.ready();
               bool ready = store && (!ctx.ready || ctx.ready());
               if (ready) return res.send(200, "{\"status\":\"ready\"}");
               sendError(res, Errc::kStoreUnavailable,
                         store ? "the subscriber connection is down"
                               : "the store is unreachable or scripts are not loaded");
             });
  router.add(http::Method::kGet, "/metrics", "metrics",
             [&ctx](http::Request&&, http::Params&&, http::Responder&& res) {
               res.send(200, ctx.metrics ? ctx.metrics() : "", {},
                        "text/plain; version=0.0.4; charset=utf-8");
             });
}

}  // namespace courier::api
