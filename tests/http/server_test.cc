// HttpServer, Responder and Router together, over real loopback sockets. The loop is driven from
// the test's thread (EVLOOP_NONBLOCK) and the client is a raw non-blocking socket, so handlers,
// parked Responders and the client all live on one thread and nothing needs locking.
#include "courier/http/server.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "courier/http/peer_watch.h"
#include "courier/http/router.h"

namespace courier::http {
namespace {

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (strcasecmp(key.c_str(), name.c_str()) == 0) return value;
    }
    return std::nullopt;
  }
  std::string code() const {
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("code")) return "<not JSON>";
    return doc["code"].GetString();
  }
};

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// One client connection over loopback. Requests are written as raw bytes; responses are parsed
// from whatever has arrived, without blocking, so the test can keep turning the server's loop.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(port);
    // Completes in the kernel (the listen backlog) without the server's loop turning.
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    EXPECT_TRUE(connected_) << "connect to port " << port << ": " << strerror(errno);
    fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~RawClient() { close(); }

  void send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      ASSERT_GT(n, 0) << strerror(errno);
      sent += static_cast<size_t>(n);
    }
  }

  // The next complete response, if it has arrived.
  std::optional<RawResponse> next() {
    char chunk[16384];
    while (!eof_) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        eof_ = true;
      } else {
        break;
      }
    }
    return parse();
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  int localPort() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }

 private:
  std::optional<RawResponse> parse() {
    size_t head_end = buf_.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    RawResponse res;
    std::string head = buf_.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    res.status = std::stoi(status_line.substr(status_line.find(' ') + 1));
    while (line_end != std::string::npos) {
      size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      std::string line =
          head.substr(start, line_end == std::string::npos ? line_end : line_end - start);
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      res.headers.emplace_back(line.substr(0, colon), value);
    }
    size_t pos = head_end + 4;
    if (res.header("Transfer-Encoding") == "chunked") {
      while (true) {
        size_t size_end = buf_.find("\r\n", pos);
        if (size_end == std::string::npos) return std::nullopt;
        size_t size = std::stoul(buf_.substr(pos, size_end - pos), nullptr, 16);
        if (buf_.size() < size_end + 2 + size + 2) return std::nullopt;
        res.body.append(buf_, size_end + 2, size);
        pos = size_end + 2 + size + 2;
        if (size == 0) break;
      }
    } else if (auto length = res.header("Content-Length")) {
      size_t n = std::stoul(*length);
      if (buf_.size() < pos + n) return std::nullopt;
      res.body = buf_.substr(pos, n);
      pos += n;
    } else {
      if (!eof_) return std::nullopt;
      res.body = buf_.substr(pos);
      pos = buf_.size();
    }
    buf_.erase(0, pos);
    return res;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

std::string post(const std::string& target, const std::string& body) {
  return "POST " + target +
         " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

// Turns the loops without blocking until `done`; the deadline only guards against a hang.
bool runUntil(std::initializer_list<event_base*> bases, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    for (event_base* base : bases) event_base_loop(base, EVLOOP_NONBLOCK);
    poll(nullptr, 0, 1);
  }
  return true;
}

std::vector<int> g_statuses;  // every reply, as the Responder observer saw it

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : base_(event_base_new()) {
    std::signal(SIGPIPE, SIG_IGN);  // writing to a client that left must not kill the test
    g_statuses.clear();
    Responder::setObserver([](int status, uint32_t tag) {
      g_statuses.push_back(status);
      (void)tag;
    });

    router_.add(Method::kGet, "/hello", "hello", [](Request&&, Params&&, Responder&& res) {
      res.send(200, R"({"hello":"world"})");
    });
    router_.add(Method::kPost, "/things/{id}", "create_thing",
                [this](Request&& req, Params&& params, Responder&& res) {
                  last_request_ = std::move(req);
                  res.send(201, std::string(params.get("id")), {{"X-Extra", "yes"}}, "text/plain");
                });
    router_.add(Method::kGet, "/things/{id}", "get_thing",
                [this](Request&& req, Params&&, Responder&& res) {
                  last_request_ = std::move(req);
                  res.send(200, "{}");
                });
    router_.add(Method::kGet, "/park", "park", [this](Request&& req, Params&&, Responder&& res) {
      parked_requests_.push_back(std::move(req));
      parked_.push_back(std::move(res));
    });
    router_.add(Method::kGet, "/drop", "drop", [](Request&&, Params&&, Responder&&) {});
    router_.add(Method::kGet, "/throw", "throw",
                [](Request&&, Params&&, Responder&&) { throw std::runtime_error("handler bug"); });
    router_.add(Method::kGet, "/stream", "stream", [](Request&&, Params&&, Responder&& res) {
      res.startStream(200, "text/event-stream");
      res.sendChunk("data: one\n\n");
      res.sendChunk("data: two\n\n");
      res.endStream();
    });
  }

  ~HttpServerTest() override {
    // Parked Responders answer before the server (and its connections) go away.
    watch_.reset();
    parked_.clear();
    server_.reset();
    event_base_free(base_);
    Responder::setObserver(nullptr);
  }

  void start(ServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(base_, options, [this](Request&& req, Responder&& res) {
      router_.dispatch(std::move(req), std::move(res));
    });
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error();
    port_ = *port;
    ASSERT_GT(port_, 0);
  }

  bool runUntil(const std::function<bool()>& done) { return http::runUntil({base_}, done); }
  // Sends a request that the "park" route keeps unanswered; true once it is parked.
  bool park(RawClient& client) {
    size_t before = parked_.size();
    client.send(get("/park"));
    return runUntil([&] { return parked_.size() == before + 1; });
  }
  void spin(int turns = 10) {
    for (int i = 0; i < turns; ++i) event_base_loop(base_, EVLOOP_NONBLOCK);
  }

  // Sends `request` and turns the loop until its response is complete.
  RawResponse roundTrip(RawClient& client, const std::string& request) {
    client.send(request);
    return await(client);
  }
  RawResponse await(RawClient& client) {
    std::optional<RawResponse> res;
    EXPECT_TRUE(runUntil([&] { return (res = client.next()).has_value(); })) << "no response";
    return res.value_or(RawResponse{});
  }

  event_base* base_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::optional<Request> last_request_;
  std::vector<Request> parked_requests_;
  std::vector<Responder> parked_;
  std::unique_ptr<PeerWatch> watch_;
};

TEST_F(HttpServerTest, AnswersWithTheHandlersStatusAndBody) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, get("/hello"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"hello":"world"})");
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  EXPECT_EQ(g_statuses, std::vector<int>{200});
}

TEST_F(HttpServerTest, KeepsTheConnectionAliveAcrossRequests) {
  start();
  RawClient client(port_);
  EXPECT_EQ(roundTrip(client, get("/hello")).status, 200);
  EXPECT_EQ(roundTrip(client, get("/nope")).status, 404);
  EXPECT_EQ(roundTrip(client, get("/hello")).status, 200);
}

TEST_F(HttpServerTest, CopiesTheRequestForTheHandler) {
  start();
  RawClient client(port_);
  RawResponse res =
      roundTrip(client,
                "POST /things/a%20b?x=1&y=two+words&flag&x=%C3%A9 HTTP/1.1\r\nHost: test\r\n"
                "X-Courier-Consumer: d-1\r\nContent-Length: 7\r\n\r\npayload");
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.body, "a b");  // the placeholder, from the decoded path
  EXPECT_EQ(res.header("Content-Type"), "text/plain");
  EXPECT_EQ(res.header("X-Extra"), "yes");

  ASSERT_TRUE(last_request_.has_value());
  const Request& req = *last_request_;
  EXPECT_EQ(req.method, Method::kPost);
  EXPECT_EQ(req.path, "/things/a b");
  using Query = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(req.query, (Query{{"x", "1"}, {"y", "two words"}, {"flag", ""}, {"x", "\xC3\xA9"}}));
  EXPECT_EQ(req.header("x-courier-consumer"), "d-1");
  EXPECT_EQ(req.header("Host"), "test");
  EXPECT_EQ(req.body, "payload");
  EXPECT_EQ(req.peer, "127.0.0.1:" + std::to_string(client.localPort()));
  // The fd is the server side of this very connection.
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  ASSERT_EQ(getpeername(req.fd, reinterpret_cast<sockaddr*>(&peer), &len), 0);
  EXPECT_EQ(ntohs(peer.sin_port), client.localPort());
}

TEST_F(HttpServerTest, UnknownPathIsJson404) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, get("/no/such/thing"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  EXPECT_EQ(res.body, R"({"error":"no route for /no/such/thing","code":"not_found"})");
}

TEST_F(HttpServerTest, WrongMethodIsJson405WithAllow) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, "DELETE /things/1 HTTP/1.1\r\nHost: test\r\n\r\n");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.code(), "method_not_allowed");
  EXPECT_EQ(res.header("Allow"), "GET, POST");
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  // Methods evhttp would otherwise refuse itself (HTML 501) reach the router too.
  for (const char* method : {"PUT", "PATCH", "OPTIONS"}) {
    RawResponse other =
        roundTrip(client, std::string(method) + " /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    EXPECT_EQ(other.status, 405) << method;
    EXPECT_EQ(other.code(), "method_not_allowed") << method;
    EXPECT_EQ(other.header("Allow"), "GET") << method;
  }
  EXPECT_EQ(g_statuses, (std::vector<int>{405, 405, 405, 405}));
}

TEST_F(HttpServerTest, BodyUpToTheCapReachesTheHandler) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  start(options);
  RawClient client(port_);
  std::string body(1024, 'b');
  EXPECT_EQ(roundTrip(client, post("/things/1", body)).status, 201);
  ASSERT_TRUE(last_request_.has_value());
  EXPECT_EQ(last_request_->body, body);
}

// evhttp answers this one itself (not JSON): the handler never runs.
TEST_F(HttpServerTest, BodyOverTheCapIs413) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  start(options);
  RawClient client(port_);
  RawResponse res = roundTrip(client, post("/things/1", std::string(4096, 'b')));
  EXPECT_EQ(res.status, 413);
  EXPECT_FALSE(last_request_.has_value());
}

TEST_F(HttpServerTest, ParkedResponderAnswersLater) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(park(client));
  spin();
  EXPECT_FALSE(client.next().has_value());
  EXPECT_TRUE(parked_[0].pending());

  parked_[0].send(202, R"({"late":true})");
  EXPECT_FALSE(parked_[0].pending());
  RawResponse res = await(client);
  EXPECT_EQ(res.status, 202);
  EXPECT_EQ(res.body, R"({"late":true})");
  // Answered once: the moved-from and answered Responders send nothing more.
  parked_.clear();
  spin();
  EXPECT_FALSE(client.next().has_value());
  EXPECT_EQ(g_statuses, std::vector<int>{202});
}

constexpr const char* kDropped =
    R"({"error":"internal error: request dropped unanswered","code":"internal"})";

TEST_F(HttpServerTest, ResponderDroppedByTheHandlerAnswers500) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, get("/drop"));
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body, kDropped);
  EXPECT_EQ(g_statuses, std::vector<int>{500});
}

TEST_F(HttpServerTest, ParkedResponderDroppedLaterAnswers500) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(park(client));
  parked_.clear();
  RawResponse res = await(client);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body, kDropped);
}

TEST_F(HttpServerTest, MoveAssigningOverAPendingResponderAnswersIt) {
  start();
  RawClient first(port_);
  RawClient second(port_);
  ASSERT_TRUE(park(first));
  ASSERT_TRUE(park(second));
  parked_[0] = std::move(parked_[1]);
  EXPECT_EQ(await(first).status, 500);
  parked_[0].send(200, "{}");
  EXPECT_EQ(await(second).status, 200);
}

TEST_F(HttpServerTest, HandlerThatThrowsGets500) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, get("/throw"));
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.code(), "internal");
  // The server is still fine.
  EXPECT_EQ(roundTrip(client, get("/hello")).status, 200);
}

TEST_F(HttpServerTest, MalformedPathIs400) {
  start();
  for (const char* target : {"/things/%zz", "/things/%4", "/things/a%00b"}) {
    RawClient client(port_);
    RawResponse res = roundTrip(client, get(target));
    EXPECT_EQ(res.status, 400) << target;
    EXPECT_EQ(res.code(), "invalid_path") << target;
  }
  EXPECT_FALSE(last_request_.has_value());
}

TEST_F(HttpServerTest, MalformedQueryIs400) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, get("/things/1?wait=%G0"));
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.code(), "invalid_query");
  EXPECT_FALSE(last_request_.has_value());
}

TEST_F(HttpServerTest, StreamsChunks) {
  start();
  RawClient client(port_);
  RawResponse res = roundTrip(client, get("/stream"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(res.body, "data: one\n\ndata: two\n\n");
  EXPECT_EQ(roundTrip(client, get("/hello")).status, 200);  // the connection is reusable
}

TEST_F(HttpServerTest, StopListeningRefusesNewConnectionsButAnswersParkedRequests) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(park(client));

  server_->stopListening();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback(port_);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  ::close(fd);

  parked_[0].send(200, R"({"still":"answered"})");
  RawResponse res = await(client);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"still":"answered"})");
}

TEST_F(HttpServerTest, PeerWatchSeesTheClientOfAParkedRequestLeave) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(park(client));
  int fd = parked_requests_[0].fd;
  ASSERT_GE(fd, 0);

  bool gone = false;
  watch_ = std::make_unique<PeerWatch>(base_, fd, [&] { gone = true; });
  spin();
  EXPECT_FALSE(gone);
  EXPECT_FALSE(PeerWatch::peerGone(fd));

  client.close();
  ASSERT_TRUE(runUntil([&] { return gone; }));
  EXPECT_TRUE(PeerWatch::peerGone(fd));

  // Still replied to: that is how evhttp frees the request (ASan checks it is not leaked).
  watch_.reset();
  parked_[0].send(200, "{}");
  spin();
  EXPECT_EQ(g_statuses, std::vector<int>{200});
}

TEST_F(HttpServerTest, PeerWatchDoesNotFireForAPipelinedRequest) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(park(client));
  int fd = parked_requests_[0].fd;

  bool gone = false;
  watch_ = std::make_unique<PeerWatch>(base_, fd, [&] { gone = true; });
  client.send(get("/hello"));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);  // the pipelined bytes wait in the socket, unread by evhttp
  spin();
  EXPECT_FALSE(gone);
  EXPECT_FALSE(PeerWatch::peerGone(fd));

  watch_.reset();
  parked_[0].send(200, R"({"n":1})");
  RawResponse first = await(client);
  RawResponse second = await(client);
  EXPECT_EQ(first.body, R"({"n":1})");
  EXPECT_EQ(second.body, R"({"hello":"world"})");
  EXPECT_FALSE(gone);
}

TEST(HttpServerBindTest, TwoServersOnTwoLoopsShareOnePort) {
  std::signal(SIGPIPE, SIG_IGN);
  event_base* base_a = event_base_new();
  event_base* base_b = event_base_new();
  int served_a = 0;
  int served_b = 0;
  {
    HttpServer a(base_a, {}, [&](Request&&, Responder&& res) {
      ++served_a;
      res.send(200, "a");
    });
    HttpServer b(base_b, {}, [&](Request&&, Responder&& res) {
      ++served_b;
      res.send(200, "b");
    });
    auto port = a.bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error();
    // Without `join`, a fixed port must be free: another server already holds it.
    EXPECT_FALSE(b.bind("127.0.0.1", *port).ok());
    auto port_b = b.bind("127.0.0.1", *port, /*join=*/true);
    ASSERT_TRUE(port_b.ok()) << port_b.error();
    EXPECT_EQ(*port_b, *port);

    // The kernel spreads connections by a hash of their addresses: with fresh client ports,
    // both listeners get some long before this bound (odds of missing one: 2^-99).
    for (int i = 0; i < 100 && (served_a == 0 || served_b == 0); ++i) {
      RawClient client(*port);
      client.send(get("/"));
      std::optional<RawResponse> res;
      ASSERT_TRUE(runUntil({base_a, base_b}, [&] { return (res = client.next()).has_value(); }));
      EXPECT_EQ(res->status, 200);
      EXPECT_TRUE(res->body == "a" || res->body == "b") << res->body;
    }
    EXPECT_GT(served_a, 0);
    EXPECT_GT(served_b, 0);
  }
  event_base_free(base_a);
  event_base_free(base_b);
}

TEST(HttpServerBindTest, PortTakenWithoutReusePortIsAnError) {
  int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);

  event_base* base = event_base_new();
  {
    HttpServer server(base, {}, [](Request&&, Responder&& res) { res.send(200, "{}"); });
    auto bound = server.bind("127.0.0.1", port);
    ASSERT_FALSE(bound.ok());
    EXPECT_NE(bound.error().find("Address already in use"), std::string::npos) << bound.error();
    EXPECT_FALSE(server.bind("127.0.0.1", 70000).ok());
  }
  event_base_free(base);
  ::close(taken);
}

}  // namespace
}  // namespace courier::http
