#include "courier/redis/subscriber.h"

#include <event2/event.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.h"

namespace courier::redis {
namespace {

using courier::testing::RedisServer;
using courier::testing::runUntil;

// Records everything the Subscriber tells its owner.
struct Recorder : Subscriber::Handler {
  void onSubscribed(const std::string& channel) override { ++subscribed[channel]; }
  void onMessage(const std::string& channel, std::string_view payload) override {
    messages.push_back(channel + "=" + std::string(payload));
  }
  void onReset() override { ++resets; }

  bool got(const std::string& m) const {
    for (const auto& x : messages) {
      if (x == m) return true;
    }
    return false;
  }

  std::map<std::string, int> subscribed;
  std::vector<std::string> messages;
  int resets = 0;
};

class SubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    ASSERT_NE(base_, nullptr);
    server_.start();
  }
  void TearDown() override {
    sub_.reset();  // before the publisher it holds a reference to
    pub_.reset();
    event_base_free(base_);
  }

  // Starts the publisher (a Connection to `pub_url`) and the subscriber (to the fixture).
  void startAll(SubscriberOptions options = {}, std::string pub_url = "") {
    auto pub_ep = parseEndpoint(pub_url.empty() ? server_.url() : pub_url);
    ASSERT_TRUE(pub_ep.ok()) << pub_ep.error();
    pub_ = std::make_unique<Connection>(
        base_, pub_ep.value(), scripts_,
        ConnectionOptions{.backoff_min_ms = 20, .backoff_max_ms = 100});
    pub_->start();
    auto ep = parseEndpoint(server_.url());
    ASSERT_TRUE(ep.ok());
    sub_ = std::make_unique<Subscriber>(base_, ep.value(), *pub_, "probe:test", options);
    sub_->setHandler(&rec_);
    sub_->start();
    ASSERT_TRUE(runUntil(base_, [&] { return pub_->ready() && sub_->connected(); }));
  }

  void subscribeAndWait(const std::string& channel) {
    int before = rec_.subscribed[channel];
    sub_->subscribe(channel);
    ASSERT_TRUE(runUntil(base_, [&] { return rec_.subscribed[channel] > before; }))
        << "no ack for " << channel;
    EXPECT_TRUE(sub_->isSubscribed(channel));
  }

  // Publishes through the fixture's own link until the subscriber has seen it (a publish that
  // races a (re)subscription may legitimately be missed: pub/sub is at-most-once).
  bool publishUntilSeen(const std::string& channel, const std::string& payload) {
    return runUntil(base_, [&] {
      if (rec_.got(channel + "=" + payload)) return true;
      server_.cmd({"PUBLISH", channel, payload});
      runUntil(
          base_, [&] { return rec_.got(channel + "=" + payload); }, 100);
      return rec_.got(channel + "=" + payload);
    });
  }

  long long numsub(const std::string& channel) {
    std::string out = server_.cmd({"PUBSUB", "NUMSUB", channel});  // "channel\nN"
    return std::stoll(out.substr(out.find('\n') + 1));
  }

  event_base* base_ = nullptr;
  RedisServer server_;
  ScriptRegistry scripts_{std::vector<ScriptSource>{}};
  std::unique_ptr<Connection> pub_;
  std::unique_ptr<Subscriber> sub_;
  Recorder rec_;
};

TEST_F(SubscriberTest, ReceivesMessagesAfterTheAck) {
  startAll();
  subscribeAndWait("ch:a");
  EXPECT_EQ(sub_->channelCount(), 1u);  // the probe channel is not counted
  EXPECT_EQ(server_.cmdInt({"PUBLISH", "ch:a", "hello"}), 1);
  ASSERT_TRUE(runUntil(base_, [&] { return rec_.got("ch:a=hello"); }));
  std::string binary("x\0y", 3);
  server_.cmd({"PUBLISH", "ch:a", binary});
  ASSERT_TRUE(runUntil(base_, [&] { return rec_.got("ch:a=" + binary); }));
  EXPECT_EQ(rec_.subscribed["ch:a"], 1);
  EXPECT_EQ(rec_.resets, 0);
}

TEST_F(SubscriberTest, SubscribeIsIdempotent) {
  startAll();
  subscribeAndWait("ch:i");
  sub_->subscribe("ch:i");
  runUntil(
      base_, [] { return false; }, 100);
  EXPECT_EQ(rec_.subscribed["ch:i"], 1);  // already acknowledged: no second onSubscribed
  EXPECT_EQ(sub_->channelCount(), 1u);
}

TEST_F(SubscriberTest, UnsubscribeStopsMessages) {
  startAll();
  subscribeAndWait("ch:u");
  sub_->unsubscribe("ch:u");
  EXPECT_FALSE(sub_->isSubscribed("ch:u"));
  ASSERT_TRUE(runUntil(base_, [&] { return numsub("ch:u") == 0 && sub_->channelCount() == 0; }));
  server_.cmd({"PUBLISH", "ch:u", "late"});
  runUntil(
      base_, [] { return false; }, 100);
  EXPECT_FALSE(rec_.got("ch:u=late"));
  EXPECT_GE(numsub("probe:test"), 1);  // the probe channel stays
}

// The hiredis 0.14 trap: an UNSUBSCRIBE ack would delete the callback a SUBSCRIBE sent right
// after it registered. The subscriber must hold the SUBSCRIBE back until the ack.
TEST_F(SubscriberTest, UnsubscribeThenSubscribeBackToBackKeepsTheChannel) {
  startAll();
  subscribeAndWait("ch:flip");
  for (int round = 0; round < 3; ++round) {
    int acks = rec_.subscribed["ch:flip"];
    sub_->unsubscribe("ch:flip");
    sub_->subscribe("ch:flip");
    ASSERT_TRUE(runUntil(base_, [&] { return rec_.subscribed["ch:flip"] > acks; }));
    EXPECT_TRUE(sub_->isSubscribed("ch:flip"));
    std::string payload = "after-flip-" + std::to_string(round);
    EXPECT_EQ(server_.cmdInt({"PUBLISH", "ch:flip", payload}), 1);
    ASSERT_TRUE(runUntil(base_, [&] { return rec_.got("ch:flip=" + payload); })) << round;
  }
}

TEST_F(SubscriberTest, SubscribeThenUnsubscribeBeforeTheAckEndsUnsubscribed) {
  startAll();
  sub_->subscribe("ch:gone");
  sub_->unsubscribe("ch:gone");
  subscribeAndWait("ch:marker");  // acks come in order: ch:gone's ack came before this one
  ASSERT_TRUE(runUntil(base_, [&] { return numsub("ch:gone") == 0; }));
  EXPECT_FALSE(sub_->isSubscribed("ch:gone"));
  EXPECT_EQ(rec_.subscribed.count("ch:gone"), 0u);
  EXPECT_EQ(sub_->channelCount(), 1u);
}

TEST_F(SubscriberTest, ResubscribesAfterClientKill) {
  startAll({.backoff_min_ms = 20, .backoff_max_ms = 100});
  subscribeAndWait("ch:k1");
  subscribeAndWait("ch:k2");
  EXPECT_GE(server_.cmdInt({"CLIENT", "KILL", "TYPE", "pubsub"}), 1);
  ASSERT_TRUE(runUntil(base_, [&] {
    return rec_.resets == 1 && rec_.subscribed["ch:k1"] == 2 && rec_.subscribed["ch:k2"] == 2;
  }));
  EXPECT_EQ(sub_->reconnects(), 1u);
  EXPECT_TRUE(sub_->isSubscribed("ch:k1"));
  EXPECT_EQ(sub_->channelCount(), 2u);
  EXPECT_EQ(server_.cmdInt({"PUBLISH", "ch:k2", "back"}), 1);
  ASSERT_TRUE(runUntil(base_, [&] { return rec_.got("ch:k2=back"); }));
}

TEST_F(SubscriberTest, ChannelsWantedWhileDisconnectedAreSubscribedOnConnect) {
  startAll({.backoff_min_ms = 20, .backoff_max_ms = 100});
  server_.kill9();
  ASSERT_TRUE(runUntil(base_, [&] { return !sub_->connected(); }));
  sub_->subscribe("ch:later");
  EXPECT_FALSE(sub_->isSubscribed("ch:later"));
  server_.start();  // same port
  ASSERT_TRUE(runUntil(base_, [&] { return rec_.subscribed["ch:later"] == 1; }));
  EXPECT_TRUE(publishUntilSeen("ch:later", "hi"));
}

// The subscriber listens on one server while the probes are published on another: the probe
// never arrives, exactly as on a silently dead link, so the subscriber must rebuild its link.
TEST_F(SubscriberTest, ProbeDetectsADeadLink) {
  RedisServer elsewhere;
  elsewhere.start();
  startAll({.backoff_min_ms = 20,
            .backoff_max_ms = 100,
            .probe_interval_ms = 50,
            .probe_timeout_ms = 200},
           elsewhere.url());
  subscribeAndWait("ch:p");
  ASSERT_TRUE(runUntil(base_, [&] { return sub_->reconnects() >= 2 && rec_.resets >= 2; }));
  ASSERT_TRUE(runUntil(base_, [&] { return sub_->isSubscribed("ch:p"); }));
  EXPECT_GE(rec_.subscribed["ch:p"], 2);
}

TEST_F(SubscriberTest, HealthyProbesKeepTheLink) {
  startAll({.probe_interval_ms = 20, .probe_timeout_ms = 2000});
  subscribeAndWait("ch:h");
  runUntil(
      base_, [] { return false; }, 500);  // ~25 probes
  EXPECT_EQ(sub_->reconnects(), 0u);
  EXPECT_EQ(rec_.resets, 0);
  EXPECT_TRUE(rec_.messages.empty());  // probes are not handed to the handler
}

TEST_F(SubscriberTest, RecoversAfterRedisStalls) {
  startAll({.backoff_min_ms = 20,
            .backoff_max_ms = 100,
            .probe_interval_ms = 50,
            .probe_timeout_ms = 300});
  subscribeAndWait("ch:s");
  server_.pause();
  runUntil(
      base_, [] { return false; }, 1000);
  server_.resume();
  ASSERT_TRUE(runUntil(base_, [&] { return sub_->isSubscribed("ch:s") && pub_->ready(); }));
  EXPECT_TRUE(publishUntilSeen("ch:s", "after-stall"));
}

TEST_F(SubscriberTest, DestroyedWhileConnected) {
  startAll();
  subscribeAndWait("ch:d");
  sub_->subscribe("ch:d2");  // an ack still in flight
  sub_.reset();
  runUntil(
      base_, [] { return false; }, 100);  // nothing fires into freed memory (ASan)
  EXPECT_EQ(rec_.resets, 0);
}

}  // namespace
}  // namespace courier::redis
