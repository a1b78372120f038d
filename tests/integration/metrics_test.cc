// /metrics after a round trip: the counters moved, and the text is Prometheus exposition format.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

// Parses the text exposition format strictly enough to catch a malformed line: comments are
// "# HELP name …" / "# TYPE name type"; samples are `name{label="v",…} number`.
std::map<std::string, double> parseExposition(const std::string& text, std::string* error) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? )"
      R"(([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (!std::regex_match(line, kComment)) *error += "bad comment: " + line + "\n";
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, kSample)) {
      *error += "bad sample: " + line + "\n";
      continue;
    }
    auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

TEST(Metrics, CountersMoveAfterARoundTripAndTheTextParses) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  std::string id = h.create(t, "rt1");
  auto claim = c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":5})",
                      daemonHeaders(t.daemon_token, "d"));
  ASSERT_EQ(claim.status, 200);
  ASSERT_EQ(c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
                   R"({"attempt":1,"status":"completed"})", auth(t.daemon_token))
                .status,
            200);
  ASSERT_EQ(field(c.get("/api/runtimes/rt1/requests/" + id + "?wait=5", auth(t.user_token)),
                  "status"),
            "completed");

  auto r = c.get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").value_or("").find("text/plain"), std::string::npos);
  std::string error;
  auto m = parseExposition(r.body, &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(m[R"(courier_requests_created_total{kind="ping"})"], 1);
  EXPECT_EQ(m[R"(courier_requests_claimed_total{kind="ping"})"], 1);
  EXPECT_EQ(m[R"(courier_requests_ended_total{kind="ping",status="completed"})"], 1);
  EXPECT_EQ(m[R"(courier_request_duration_seconds_count{kind="ping"})"], 1);
  EXPECT_GT(m["courier_redis_commands_total"], 5);
  EXPECT_GT(m["courier_redis_roundtrip_seconds_count"], 5);
  EXPECT_EQ(m[R"(courier_http_responses_total{route="create_request",code="201"})"], 1);
  EXPECT_EQ(m[R"(courier_http_responses_total{route="report",code="200"})"], 1);
  EXPECT_GE(m["courier_wakeups_total"], 0);
  EXPECT_EQ(m[R"(courier_parked{type="claim"})"], 0);
  EXPECT_EQ(m.count(R"(courier_parked{type="get"})"), 1u);
}

}  // namespace
}  // namespace courier::testing
