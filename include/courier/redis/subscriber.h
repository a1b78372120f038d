// The worker's one pub/sub connection. Keeps the set of wanted channels, (re)subscribes them on
// every (re)connect, and proves itself alive with a probe message on a node-private channel
// (a PING on a subscribed hiredis 0.14 connection would be answered to the subscription
// callback). Owned by, and only touched from, its worker's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "courier/redis/connection.h"
#include "courier/redis/endpoint.h"

struct event_base;

namespace courier::redis {

struct SubscriberOptions {
  int connect_timeout_ms = 1000;
  int backoff_min_ms = 50;
  int backoff_max_ms = 2000;
  // Every probe_interval_ms a message is PUBLISHed (on the command connection) to the private
  // probe channel; if it has not arrived within probe_timeout_ms the link is dropped and rebuilt.
  int probe_interval_ms = 10000;
  int probe_timeout_ms = 3000;
};

class Subscriber {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // The server acknowledged the subscription of `channel` (again after every reconnect).
    virtual void onSubscribed(const std::string& channel) = 0;
    virtual void onMessage(const std::string& channel, std::string_view payload) = 0;
    // The link dropped: no channel is subscribed any more. Wanted channels are resubscribed
    // automatically and onSubscribed fires for each once acknowledged.
    virtual void onReset() = 0;
  };

  // `publisher` sends the probes; `probe_channel` must be unique to this worker of this node.
  Subscriber(event_base* base, Endpoint endpoint, Client& publisher, std::string probe_channel,
             SubscriberOptions options = {});
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void setHandler(Handler* handler);
  void start();
  void stop();

  // Adds `channel` to the wanted set. Idempotent. If it is not yet acknowledged, onSubscribed
  // fires once the server acks it. Safe while an UNSUBSCRIBE of it is in flight: it is
  // subscribed again after that one is acknowledged (never both in flight at once — hiredis
  // 0.14 would lose the channel's callback).
  void subscribe(const std::string& channel);
  // Removes `channel` from the wanted set and unsubscribes it.
  void unsubscribe(const std::string& channel);
  // True when `channel` is wanted, acknowledged, and no UNSUBSCRIBE of it is in flight.
  bool isSubscribed(const std::string& channel) const;

  bool connected() const;
  size_t channelCount() const;  // acknowledged channels, the probe channel excluded
  uint64_t reconnects() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::redis
