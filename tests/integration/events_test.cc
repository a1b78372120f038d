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

double parkedEvents(int port) {
  HttpClient c(port);
  std::string body = c.get("/metrics").body;
  std::string key = "courier_parked{type=\"events\"} ";
  size_t at = body.find(key);
  return at == std::string::npos ? -1 : std::stod(body.substr(at + key.size()));
}

// A browser tab closed mid-stream: the node learns it from evhttp (which reads the socket while
// streaming) and releases the stream, and then serves new connections normally.
TEST(Events, StreamWhoseClientLeavesIsReleased) {
  Harness h;
  Tenant t = h.tenant();
  h.runtime(t, "rt1");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(h.create(t, "rt1"));
  {
    std::vector<std::unique_ptr<HttpClient>> tabs;
    for (const auto& id : ids) {
      tabs.push_back(std::make_unique<HttpClient>(h.port()));
      ASSERT_TRUE(tabs.back()->sendRaw("GET /api/runtimes/rt1/requests/" + id +
                                       "/events?access_token=" + t.user_token +
                                       " HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    bool streaming = false;
    for (int i = 0; i < 100 && !streaming; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      streaming = parkedEvents(h.port()) == 5;
    }
    ASSERT_TRUE(streaming) << parkedEvents(h.port());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the first event is out
  }  // every tab closes
  bool released = false;
  for (int i = 0; i < 100 && !released; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    released = parkedEvents(h.port()) == 0;
  }
  EXPECT_TRUE(released) << parkedEvents(h.port()) << " streams still parked";
  // New connections (which may reuse the closed descriptors) are served.
  HttpClient c(h.port());
  for (const auto& id : ids) {
    EXPECT_EQ(field(c.get("/api/runtimes/rt1/requests/" + id, auth(t.user_token)), "status"),
              "pending");
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
