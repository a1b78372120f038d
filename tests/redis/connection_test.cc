#include "courier/redis/connection.h"

#include <event2/event.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/redis_server.h"

namespace courier::redis {
namespace {

using courier::testing::RedisServer;
using courier::testing::runUntil;

// One real redis-server per test, one event base, one Connection under test.
class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    ASSERT_NE(base_, nullptr);
  }
  void TearDown() override {
    conn_.reset();
    event_base_free(base_);
  }

  void startServer(RedisServer::Options options = {}) {
    server_ = std::make_unique<RedisServer>(options);
    server_->start();
  }

  Connection& connect(ConnectionOptions options = {}, std::string url = "") {
    auto ep = parseEndpoint(url.empty() ? server_->url() : url);
    EXPECT_TRUE(ep.ok()) << ep.error();
    conn_ = std::make_unique<Connection>(base_, ep.value(), scripts_, options);
    conn_->setOnReadyChange([this](bool ready) { ready_changes_.push_back(ready); });
    conn_->start();
    EXPECT_TRUE(runUntil(base_, [&] { return conn_->ready(); })) << "never became ready";
    return *conn_;
  }

  // Runs one command to completion.
  ReplyResult run(std::vector<std::string> argv) {
    std::optional<ReplyResult> out;
    conn_->command(std::move(argv), [&](ReplyResult r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(runUntil(base_, [&] { return out.has_value(); }));
    return out ? std::move(*out) : fail(RedisError{Errc::kUnavailable, "test: no reply"});
  }

  ReplyResult eval(std::string name, std::vector<std::string> keys, std::vector<std::string> args) {
    std::optional<ReplyResult> out;
    conn_->evalScript(name, std::move(keys), std::move(args),
                      [&](ReplyResult r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(runUntil(base_, [&] { return out.has_value(); }));
    return out ? std::move(*out) : fail(RedisError{Errc::kUnavailable, "test: no reply"});
  }

  event_base* base_ = nullptr;
  std::unique_ptr<RedisServer> server_;
  ScriptRegistry scripts_{
      {{"echo", "return ARGV[1]"}, {"incr_by", "return redis.call('INCRBY', KEYS[1], ARGV[1])"}}};
  std::unique_ptr<Connection> conn_;
  std::vector<bool> ready_changes_;
};

TEST_F(ConnectionTest, CommandRoundTrip) {
  startServer();
  connect();
  EXPECT_EQ(conn_->state(), Connection::State::kReady);
  EXPECT_EQ(ready_changes_, std::vector<bool>{true});

  auto set = run({"SET", "rt:k", "v"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");
  auto get = run({"GET", "rt:k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->text(), "v");
  EXPECT_TRUE(run({"GET", "rt:missing"})->isNil());
  EXPECT_EQ(run({"INCR", "rt:n"})->asInt(), 1);
  EXPECT_EQ(server_->cmd({"GET", "rt:k"}), "v");
}

TEST_F(ConnectionTest, ArgumentsAreBinarySafe) {
  startServer();
  connect();
  std::string value("a\0b\r\n c", 7);
  ASSERT_TRUE(run({"SET", std::string("bin\0key", 7), value}).ok());
  auto get = run({"GET", std::string("bin\0key", 7)});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, value);
}

TEST_F(ConnectionTest, CopiesNestedRepliesAndErrors) {
  startServer();
  connect();
  auto nested = run({"EVAL", "return {1, 'a', {2, {'deep'}}, {}}", "0"});
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  ASSERT_EQ(nested->elements.size(), 4u);
  EXPECT_EQ(nested->elements[0].asInt(), 1);
  EXPECT_EQ(nested->elements[1].text(), "a");
  EXPECT_EQ(nested->elements[2].elements[1].elements[0].text(), "deep");
  EXPECT_TRUE(nested->elements[3].elements.empty());

  auto err = run({"NOSUCHCOMMAND"});
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, Errc::kServer);
  EXPECT_EQ(err.error().message.rfind("ERR", 0), 0u) << err.error().message;

  auto inner = run({"EVAL", "return {1, redis.error_reply('MYERR inner')}", "0"});
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code, Errc::kServer);
  EXPECT_EQ(inner.error().message, "MYERR inner");

  EXPECT_EQ(conn_->stats().failures, 2u);
  EXPECT_TRUE(conn_->ready());  // server errors do not hurt the link
}

TEST_F(ConnectionTest, WorksOverUnixSocketWithDb) {
  startServer();
  connect({}, "unix://" + server_->unixPath() + "?db=2");
  ASSERT_TRUE(run({"SET", "db:k", "in-db-2"}).ok());
  EXPECT_EQ(server_->cmd({"GET", "db:k"}), "(nil)");  // the fixture's link uses db 0
  server_->cmd({"SELECT", "2"});
  EXPECT_EQ(server_->cmd({"GET", "db:k"}), "in-db-2");
}

TEST_F(ConnectionTest, EvalScriptSurvivesScriptFlush) {
  startServer();
  connect();
  auto first = eval("incr_by", {"s:n"}, {"5"});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->asInt(), 5);
  uint64_t sent = conn_->stats().commands;

  EXPECT_EQ(server_->cmd({"SCRIPT", "FLUSH"}), "OK");
  auto again = eval("incr_by", {"s:n"}, {"2"});  // EVALSHA → NOSCRIPT → EVAL
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->asInt(), 7);
  EXPECT_EQ(conn_->stats().commands, sent + 2);
  // EVAL loaded it again: the next call needs one command only.
  EXPECT_EQ(server_->cmd({"SCRIPT", "EXISTS", scripts_.find("incr_by")->sha1}), "1");
  auto echo = eval("echo", {}, {std::string("x\0y", 3)});
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->str, std::string("x\0y", 3));
}

TEST_F(ConnectionTest, HandshakeLoadsEveryScript) {
  startServer();
  connect();
  for (const auto& s : scripts_.all()) {
    EXPECT_EQ(server_->cmd({"SCRIPT", "EXISTS", s.sha1}), "1") << s.name;
  }
}

TEST_F(ConnectionTest, UnknownScriptIsAnAsyncServerError) {
  startServer();
  connect();
  bool called = false;
  conn_->evalScript("nope", {}, {}, [&](ReplyResult r) {
    called = true;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kServer);
  });
  EXPECT_FALSE(called);
  EXPECT_TRUE(runUntil(base_, [&] { return called; }));
}

TEST_F(ConnectionTest, FailsFastAndAsynchronouslyWhileRedisIsDown) {
  startServer();
  connect({.backoff_min_ms = 20, .backoff_max_ms = 100});
  server_->kill9();
  ASSERT_TRUE(runUntil(base_, [&] { return !conn_->ready(); }));
  EXPECT_EQ(ready_changes_, (std::vector<bool>{true, false}));

  std::optional<ReplyResult> out;
  conn_->command({"PING"}, [&](ReplyResult r) { out.emplace(std::move(r)); });
  EXPECT_FALSE(out.has_value()) << "callback ran inside command()";
  std::optional<ReplyResult> script_out;
  conn_->evalScript("echo", {}, {"x"}, [&](ReplyResult r) { script_out.emplace(std::move(r)); });
  EXPECT_FALSE(script_out.has_value());
  ASSERT_TRUE(runUntil(base_, [&] { return out.has_value() && script_out.has_value(); }));
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().code, Errc::kUnavailable);
  EXPECT_EQ(script_out->error().code, Errc::kUnavailable);
}

TEST_F(ConnectionTest, InFlightCommandsFailWhenRedisDies) {
  startServer();
  connect();
  // A stopped server keeps the command in flight; SIGKILL then closes the socket.
  server_->pause();
  std::optional<ReplyResult> out;
  conn_->command({"PING"}, [&](ReplyResult r) { out.emplace(std::move(r)); });
  runUntil(
      base_, [] { return false; }, 100);  // let it be written
  EXPECT_FALSE(out.has_value());
  server_->kill9();
  ASSERT_TRUE(runUntil(base_, [&] { return out.has_value(); }));
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().code, Errc::kDisconnected);
}

TEST_F(ConnectionTest, ReconnectsAfterRestartAndReloadsScripts) {
  startServer({.appendonly = true});
  connect({.backoff_min_ms = 20, .backoff_max_ms = 200});
  ASSERT_TRUE(run({"SET", "r:k", "kept"}).ok());
  server_->restart();  // same port; scripts are gone, data is in the AOF
  ASSERT_TRUE(runUntil(base_, [&] { return ready_changes_.size() >= 3 && conn_->ready(); }));
  EXPECT_EQ(ready_changes_, (std::vector<bool>{true, false, true}));
  EXPECT_GE(conn_->stats().reconnects, 1u);
  EXPECT_EQ(run({"GET", "r:k"})->text(), "kept");
  for (const auto& s : scripts_.all()) {
    EXPECT_EQ(server_->cmd({"SCRIPT", "EXISTS", s.sha1}), "1") << s.name;
  }
}

TEST_F(ConnectionTest, RetriesConnectingUntilRedisAppears) {
  startServer();
  int port = server_->port();
  server_->stop();
  auto ep = parseEndpoint("redis://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(ep.ok());
  conn_ = std::make_unique<Connection>(
      base_, ep.value(), scripts_, ConnectionOptions{.backoff_min_ms = 10, .backoff_max_ms = 50});
  conn_->start();
  ASSERT_TRUE(runUntil(base_, [&] { return conn_->state() == Connection::State::kBackoff; }));
  runUntil(
      base_, [] { return false; }, 200);  // a few failed attempts
  EXPECT_FALSE(conn_->ready());
  server_->start();  // same port
  EXPECT_TRUE(runUntil(base_, [&] { return conn_->ready(); }));
}

TEST_F(ConnectionTest, StalledLinkTimesOutThenRecovers) {
  startServer();
  connect({.command_timeout_ms = 300, .backoff_min_ms = 20, .backoff_max_ms = 100});
  server_->pause();
  std::vector<ReplyResult> results;
  for (int i = 0; i < 3; ++i) {
    conn_->command({"PING"}, [&](ReplyResult r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(runUntil(base_, [&] { return results.size() == 3; }));
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kTimeout) << r.error().message;
  }
  EXPECT_FALSE(conn_->ready());
  EXPECT_EQ(conn_->inFlight(), 0u);
  server_->resume();
  ASSERT_TRUE(runUntil(base_, [&] { return conn_->ready(); }));
  EXPECT_EQ(run({"PING"})->text(), "PONG");
}

TEST_F(ConnectionTest, InFlightCapFailsFast) {
  startServer();
  connect({.max_in_flight = 2});
  std::vector<ReplyResult> results(3, fail(RedisError{Errc::kServer, "unset"}));
  int done = 0;
  for (int i = 0; i < 3; ++i) {
    conn_->command({"PING"}, [&, i](ReplyResult r) {
      results[i] = std::move(r);
      ++done;
    });
  }
  EXPECT_EQ(done, 0);
  EXPECT_EQ(conn_->inFlight(), 2u);
  ASSERT_TRUE(runUntil(base_, [&] { return done == 3; }));
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error().code, Errc::kUnavailable);
}

TEST_F(ConnectionTest, StopFailsInFlightAndSettles) {
  startServer();
  connect();
  server_->pause();  // keep the commands in flight
  std::vector<ReplyResult> results;
  for (int i = 0; i < 2; ++i) {
    conn_->command({"PING"}, [&](ReplyResult r) { results.push_back(std::move(r)); });
  }
  conn_->stop();
  ASSERT_EQ(results.size(), 2u);  // stop() reports them at once
  for (const auto& r : results) EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_EQ(conn_->state(), Connection::State::kStopped);
  EXPECT_EQ(ready_changes_, (std::vector<bool>{true, false}));

  std::optional<ReplyResult> after;
  conn_->command({"PING"}, [&](ReplyResult r) { after.emplace(std::move(r)); });
  ASSERT_TRUE(runUntil(base_, [&] { return after.has_value(); }));
  EXPECT_EQ(after->error().code, Errc::kUnavailable);
  server_->resume();
}

TEST_F(ConnectionTest, DestroyedWithCommandsInFlight) {
  startServer();
  connect();
  server_->pause();  // keep them in flight
  int failed = 0;
  for (int i = 0; i < 10; ++i) {
    conn_->command({"PING"}, [&](ReplyResult r) {
      if (!r.ok()) ++failed;
    });
  }
  runUntil(
      base_, [] { return false; }, 20);
  conn_.reset();  // hiredis' NULL-reply callbacks must not reach the destroyed object
  EXPECT_EQ(failed, 10);
  server_->resume();
  runUntil(
      base_, [] { return false; }, 100);  // nothing fires into freed memory (ASan)
}

TEST_F(ConnectionTest, StopFromInsideAReplyCallback) {
  startServer();
  connect();
  std::vector<Errc> codes;
  bool first_ok = false;
  conn_->command({"PING"}, [&](ReplyResult r) {
    first_ok = r.ok();
    conn_->stop();  // inside hiredis' callback: the free is deferred by hiredis
  });
  conn_->command({"PING"}, [&](ReplyResult r) { codes.push_back(r.error().code); });
  ASSERT_TRUE(runUntil(base_, [&] { return !codes.empty(); }));
  EXPECT_TRUE(first_ok);
  EXPECT_EQ(codes, std::vector<Errc>{Errc::kUnavailable});
  conn_.reset();
  runUntil(
      base_, [] { return false; }, 50);
}

TEST_F(ConnectionTest, ReportsRoundTrips) {
  startServer();
  connect();
  std::vector<double> seconds;
  conn_->setOnRoundTrip([&](double s) { seconds.push_back(s); });
  ASSERT_TRUE(run({"PING"}).ok());
  ASSERT_EQ(seconds.size(), 1u);
  EXPECT_GE(seconds[0], 0.0);
}

}  // namespace
}  // namespace courier::redis
