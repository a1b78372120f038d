// /metrics after a round trip: the counters moved, and the text is Prometheus exposition format.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

bool isNameChar(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Parses the text exposition format strictly enough to catch a malformed line: comments are
// "# HELP name …" / "# TYPE name type"; samples are `name{label="v",…} number`.
std::map<std::string, double> parseExposition(const std::string& text, std::string* error) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("# HELP ", 0) != 0 && line.rfind("# TYPE ", 0) != 0) {
        *error += "bad comment: " + line + "\n";
      }
      continue;
    }
    size_t i = 0;
    while (i < line.size() && isNameChar(line[i], i == 0)) ++i;
    bool ok = i > 0;
    if (ok && i < line.size() && line[i] == '{') {
      // label="value" pairs, values with \-escapes, until the closing brace
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        size_t start = i;
        while (i < line.size() && isNameChar(line[i], i == start)) ++i;
        ok = i > start && i + 1 < line.size() && line[i] == '=' && line[i + 1] == '"';
        i += 2;
        while (ok && i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
        ok = ok && i < line.size();
        ++i;
        if (ok && i < line.size() && line[i] == ',') ++i;
      }
      ok = ok && i < line.size() && line[i] == '}';
      ++i;
    }
    ok = ok && i < line.size() && line[i] == ' ';
    double value = 0;
    if (ok) {
      std::string num = line.substr(i + 1);
      char* end = nullptr;
      value = std::strtod(num.c_str(), &end);
      ok = !num.empty() && end != nullptr && *end == '\0';
    }
    if (!ok) {
      *error += "bad sample: " + line + "\n";
      continue;
    }
    samples[line.substr(0, i)] = value;
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
  ASSERT_EQ(
      field(c.get("/api/runtimes/rt1/requests/" + id + "?wait=5", auth(t.user_token)), "status"),
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
