// The test helpers themselves: HttpClient against a scripted in-process TCP server, ChildProcess
// and NodeProcess against small shell scripts.
#include <arpa/inet.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "support/http_client.h"
#include "support/node_process.h"

namespace courier::testing {
namespace {

// Accepts connections on a free loopback port and hands each to `serve` on one background thread,
// one after the other. The destructor stops accepting and joins.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int fd)> serve) : serve_(std::move(serve)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;  // shutdown() in the destructor.
        ++accepted_;
        serve_(fd);
        ::close(fd);
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  std::function<void(int)> serve_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads one request head (and a Content-Length body) from `fd`; nullopt at EOF.
std::optional<std::string> readRequest(int fd) {
  std::string data;
  char c;
  while (data.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) return std::nullopt;
    data.push_back(c);
  }
  const size_t cl = data.find("Content-Length: ");
  if (cl != std::string::npos) {
    size_t n = std::stoul(data.substr(cl + 16));
    while (n-- > 0 && ::recv(fd, &c, 1, 0) == 1) data.push_back(c);
  }
  return data;
}

void sendAll(int fd, const std::string& s) {
  ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

std::string okResponse(const std::string& body) {
  return "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(HttpClient, KeepsTheConnectionAliveAcrossRequests) {
  std::mutex mu;
  std::string seen;
  ScriptedServer server([&](int fd) {
    while (auto request = readRequest(fd)) {
      {
        std::lock_guard lock(mu);
        seen += *request;
      }
      sendAll(fd, okResponse(R"({"n": 1})"));
    }
  });
  HttpClient client(server.port());
  const HttpResponse first = client.post("/v1/things", R"({"a":1})", {bearer("tok")});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("Content-Type"), "application/json");
  EXPECT_EQ(first.header("X-Missing"), std::nullopt);
  EXPECT_EQ(first.json()["n"].GetInt(), 1);
  EXPECT_EQ(client.get("/v1/things/1").status, 200);
  client.close();
  EXPECT_EQ(server.accepted(), 1);
  std::lock_guard lock(mu);
  EXPECT_NE(seen.find("POST /v1/things HTTP/1.1\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Authorization: Bearer tok\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Content-Length: 7\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\n\r\n{\"a\":1}GET"), std::string::npos) << seen;
  EXPECT_NE(seen.find("GET /v1/things/1 HTTP/1.1\r\n"), std::string::npos) << seen;
}

TEST(HttpClient, ReadsChunkedBodies) {
  ScriptedServer server([](int fd) {
    if (!readRequest(fd)) return;
    sendAll(fd,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n");
    readRequest(fd);  // Until the client closes.
  });
  HttpClient client(server.port());
  const HttpResponse response = client.get("/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello, world");
}

TEST(HttpClient, ReconnectsWhenTheServerClosedAnIdleConnection) {
  ScriptedServer server([](int fd) {
    if (readRequest(fd)) sendAll(fd, okResponse("{}"));
    // Closes right after answering, without saying "Connection: close".
  });
  HttpClient client(server.port());
  EXPECT_EQ(client.get("/a").status, 200);
  EXPECT_EQ(client.get("/b").status, 200);
  EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, ReadsPipelinedResponsesInOrder) {
  ScriptedServer server([](int fd) {
    if (!readRequest(fd) || !readRequest(fd)) return;
    sendAll(fd, okResponse("one") + okResponse("two"));
    readRequest(fd);
  });
  HttpClient client(server.port());
  ASSERT_TRUE(
      client.sendRaw("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(client.readResponse().body, "one");
  EXPECT_EQ(client.readResponse().body, "two");
}

TEST(HttpClient, ReadsABodyDelimitedByClose) {
  ScriptedServer server([](int fd) {
    if (readRequest(fd)) sendAll(fd, "HTTP/1.0 503 Service Unavailable\r\n\r\nbusy");
  });
  HttpClient client(server.port());
  const HttpResponse response = client.get("/");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "busy");
  EXPECT_EQ(client.fd(), -1);
}

TEST(HttpClient, TimesOutInsteadOfHanging) {
  ScriptedServer server([](int fd) {
    readRequest(fd);
    readRequest(fd);  // Never answers; returns when the client gives up and closes.
  });
  HttpClient client(server.port());
  client.setTimeoutMs(100);
  const HttpResponse response = client.get("/slow");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.body.find("timeout"), std::string::npos) << response.body;
}

TEST(HttpClient, ReportsAConnectionErrorAsStatusZero) {
  int port;
  {
    ScriptedServer gone([](int) {});
    port = gone.port();
  }
  HttpClient client(port);
  const HttpResponse response = client.get("/");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.body.find("connect"), std::string::npos) << response.body;
}

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = makeTempDir("courier-support-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

TEST_F(ChildProcessTest, CapturesOutputAndExitCode) {
  ChildProcess child({"sh", "-c", "echo out; echo err >&2; echo \"$COURIER_X\"; exit 3"},
                     {{"COURIER_X", "from-env"}}, path("log"));
  ASSERT_TRUE(child.start()) << child.lastError();
  EXPECT_EQ(child.wait(), 3);
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.log(), "out\nerr\nfrom-env\n");
  EXPECT_EQ(child.wait(), 3);  // Remembered after the reap.
}

TEST_F(ChildProcessTest, TerminateReportsTheSignal) {
  ChildProcess child({"sleep", "30"}, {}, path("log"));
  ASSERT_TRUE(child.start());
  EXPECT_TRUE(child.running());
  EXPECT_GT(child.pid(), 0);
  EXPECT_EQ(child.terminate(), 128 + SIGTERM);
  EXPECT_EQ(child.pid(), -1);
}

TEST_F(ChildProcessTest, TerminateKillsAChildThatIgnoresSigterm) {
  ChildProcess child({"sh", "-c", "trap '' TERM; echo ready; exec sleep 30"}, {}, path("log"));
  ASSERT_TRUE(child.start());
  for (int i = 0; i < 2000 && child.log().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(child.terminate(200), -1);
  EXPECT_FALSE(child.running());
}

TEST_F(ChildProcessTest, Kill9) {
  ChildProcess child({"sleep", "30"});
  ASSERT_TRUE(child.start());
  child.kill9();
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.wait(), 128 + SIGKILL);
}

TEST_F(ChildProcessTest, StartFailsForAMissingProgram) {
  ChildProcess child({path("no-such-program")});
  EXPECT_FALSE(child.start());
  EXPECT_NE(child.lastError().find("No such file"), std::string::npos) << child.lastError();
}

// NodeProcess against a fake "courier" that prints the line a real node prints.
class NodeProcessTest : public ChildProcessTest {
 protected:
  void SetUp() override {
    ChildProcessTest::SetUp();
    if (const char* old = std::getenv("COURIER_BUILD")) old_build_ = old;
    ::setenv("COURIER_BUILD", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (old_build_) {
      ::setenv("COURIER_BUILD", old_build_->c_str(), 1);
    } else {
      ::unsetenv("COURIER_BUILD");
    }
    ChildProcessTest::TearDown();
  }
  void fakeNode(const std::string& script) {
    std::ofstream(path("courier")) << "#!/bin/sh\n" << script;
    std::filesystem::permissions(path("courier"), std::filesystem::perms::owner_all);
  }
  std::optional<std::string> old_build_;
};

TEST_F(NodeProcessTest, StartsOnTheAnnouncedPort) {
  fakeNode(
      "echo \"args: $*\"\n"
      "echo '2026-12-04T15:55:32.123Z info [n] listening on 127.0.0.1:4567'\n"
      "exec sleep 30\n");
  NodeProcess node({"--node-id", "n1"});
  ASSERT_TRUE(node.start());
  EXPECT_EQ(node.port(), 4567);
  EXPECT_EQ(node.baseUrl(), "http://127.0.0.1:4567");
  EXPECT_NE(node.log().find("args: --node-id n1 --listen 127.0.0.1:0\n"), std::string::npos)
      << node.log();
  EXPECT_EQ(node.terminate(), 128 + SIGTERM);
}

TEST_F(NodeProcessTest, KeepsAnExplicitListenAndReadsJsonLogs) {
  fakeNode(
      "echo \"args: $*\"\n"
      "echo '{\"msg\":\"listening on 127.0.0.1:4321\"}'\n"
      "exec sleep 30\n");
  NodeProcess node({"--listen", "127.0.0.1:4321"});
  ASSERT_TRUE(node.start());
  EXPECT_EQ(node.port(), 4321);
  EXPECT_NE(node.log().find("args: --listen 127.0.0.1:4321\n"), std::string::npos) << node.log();
}

TEST_F(NodeProcessTest, StartFailsWithTheLogWhenTheNodeExits) {
  fakeNode("echo 'bad --redis-url: boom' >&2\nexit 2\n");
  NodeProcess node({});
  bool started = true;
  EXPECT_NONFATAL_FAILURE(started = node.start(), "bad --redis-url: boom");
  EXPECT_FALSE(started);
  EXPECT_EQ(node.port(), 0);
}

}  // namespace
}  // namespace courier::testing
