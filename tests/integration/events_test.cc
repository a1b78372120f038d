// Server-Sent Events read by a real client until the terminal event.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/courier_harness.h"

namespace courier::testing {
namespace {

// Reads a chunked text/event-stream response until the server ends it; returns the decoded body.
std::string readStream(int port, const std::string& target, HttpResponse* head) {
  HttpClient c(port);
  c.setTimeoutMs(30000);
  *head = c.get(target);  // the client decodes chunked bodies and returns once the stream ends
  return head->body;
}

std::vector<std::string> events(const std::string& body) {
  std::vector<std::string> data;
  size_t pos = 0;
  while ((pos = body.find("event: state\ndata: ", pos)) != std::string::npos) {
    pos += 19;
    size_t end = body.find("\n\n", pos);
    data.push_back(body.substr(pos, end - pos));
    pos = end;
  }
  return data;
}

TEST(Events, StreamsEveryChangeUntilTheTerminalOne) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::string id = h.create(t, "rt1");
  HttpResponse head;
  auto stream = std::async(std::launch::async, [&] {
    return readStream(h.port(),
                      "/api/runtimes/rt1/requests/" + id + "/events?access_token=" + t.user_token,
                      &head);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  HttpClient c(h.port());
  ASSERT_EQ(c.post("/api/daemon/claim", R"({"runtime_ids":["rt1"],"wait":5})",
                   daemonHeaders(t.daemon_token, "d"))
                .status,
            200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(
      c.post("/api/daemon/runtimes/rt1/requests/" + id + "/result",
             R"({"attempt":1,"status":"completed","result":{"pong":true}})", auth(t.daemon_token))
          .status,
      200);
  std::string body = stream.get();
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Type").value_or(""), "text/event-stream");
  auto evs = events(body);
  ASSERT_GE(evs.size(), 2u) << body;
  EXPECT_NE(evs.front().find("\"status\":\"pending\""), std::string::npos);
  EXPECT_NE(evs.back().find("\"status\":\"completed\""), std::string::npos);
  // Versions only go up, one event per version at most.
  int64_t last = 0;
  for (const auto& e : evs) {
    rapidjson::Document d;
    d.Parse(e.c_str());
    ASSERT_TRUE(d.IsObject()) << e;
    EXPECT_GT(d["version"].GetInt64(), last);
    last = d["version"].GetInt64();
  }
}

TEST(Events, UnknownRequestAndMissingTokenAreJsonErrors) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  HttpClient c(h.port());
  auto missing = c.get("/api/runtimes/rt1/requests/nope/events", auth(t.user_token));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(field(missing, "code"), "not_found");
  EXPECT_EQ(c.get("/api/runtimes/rt1/requests/nope/events").status, 401);
}

}  // namespace
}  // namespace courier::testing
