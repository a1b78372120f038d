#include "courier/http/peer_watch.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>

namespace courier::http {
namespace {

// Both ends of a connected stream socket; closes what is still open.
struct SocketPair {
  int ours = -1;    // the watched (server) side
  int theirs = -1;  // the peer
  ~SocketPair() {
    if (ours >= 0) ::close(ours);
    if (theirs >= 0) ::close(theirs);
  }
  void closeTheirs() {
    ::close(theirs);
    theirs = -1;
  }
};

SocketPair unixPair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  return {fds[0], fds[1]};
}

// A loopback TCP connection (ECONNRESET needs TCP).
SocketPair tcpPair() {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(listen(listener, 1), 0);
  EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  SocketPair pair;
  pair.theirs = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(connect(pair.theirs, reinterpret_cast<sockaddr*>(&addr), len), 0);
  pair.ours = accept(listener, nullptr, nullptr);
  EXPECT_GE(pair.ours, 0);
  ::close(listener);
  return pair;
}

// Blocks (bounded) until `fd` has something to read: data, EOF or an error.
bool waitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 10000) == 1;
}

class PeerWatchTest : public ::testing::Test {
 protected:
  PeerWatchTest() : base_(event_base_new()) {}
  ~PeerWatchTest() override {
    watch_.reset();
    event_base_free(base_);
  }

  void watch(int fd) {
    watch_ = std::make_unique<PeerWatch>(base_, fd, [this] { ++gone_; });
  }

  // Turns the loop without blocking until `done`; the deadline only guards against a hang.
  bool runUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      event_base_loop(base_, EVLOOP_ONCE | EVLOOP_NONBLOCK);
      poll(nullptr, 0, 1);
    }
    return true;
  }
  void spin(int turns = 10) {
    for (int i = 0; i < turns; ++i) event_base_loop(base_, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }

  event_base* base_;
  std::unique_ptr<PeerWatch> watch_;
  int gone_ = 0;
};

TEST_F(PeerWatchTest, FiresOnceWhenThePeerCloses) {
  SocketPair pair = unixPair();
  watch(pair.ours);
  spin();
  EXPECT_EQ(gone_, 0);
  EXPECT_FALSE(PeerWatch::peerGone(pair.ours));

  pair.closeTheirs();
  ASSERT_TRUE(runUntil([&] { return gone_ > 0; }));
  spin();
  EXPECT_EQ(gone_, 1);
  EXPECT_TRUE(PeerWatch::peerGone(pair.ours));
}

TEST_F(PeerWatchTest, FiresWhenThePeerResets) {
  SocketPair pair = tcpPair();
  watch(pair.ours);
  linger hard{1, 0};  // close() now sends RST instead of FIN
  ASSERT_EQ(setsockopt(pair.theirs, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard)), 0);
  pair.closeTheirs();
  ASSERT_TRUE(runUntil([&] { return gone_ > 0; }));
  EXPECT_EQ(gone_, 1);
}

TEST_F(PeerWatchTest, NeverFiresFromTheConstructor) {
  SocketPair pair = unixPair();
  pair.closeTheirs();
  EXPECT_TRUE(PeerWatch::peerGone(pair.ours));
  watch(pair.ours);
  EXPECT_EQ(gone_, 0);
  ASSERT_TRUE(runUntil([&] { return gone_ > 0; }));
  EXPECT_EQ(gone_, 1);
}

// Bytes from the peer are its next (pipelined) request: it is alive, and whatever it does
// afterwards is evhttp's business once we reply.
TEST_F(PeerWatchTest, PendingBytesStopTheWatchWithoutFiring) {
  SocketPair pair = unixPair();
  watch(pair.ours);
  ASSERT_EQ(::write(pair.theirs, "G", 1), 1);
  ASSERT_TRUE(waitReadable(pair.ours));
  spin();
  EXPECT_FALSE(PeerWatch::peerGone(pair.ours));

  pair.closeTheirs();
  spin();
  EXPECT_EQ(gone_, 0);
  // The byte is still there for its reader: the watch only peeked.
  char byte = 0;
  EXPECT_EQ(::read(pair.ours, &byte, 1), 1);
  EXPECT_EQ(byte, 'G');
}

TEST_F(PeerWatchTest, DestroyedWatchNeverFires) {
  SocketPair pair = unixPair();
  watch(pair.ours);
  watch_.reset();
  pair.closeTheirs();
  spin();
  EXPECT_EQ(gone_, 0);
}

// The usual owner is the waiter that on_gone releases: destroying the watch from its own
// callback must be safe (run under ASan).
TEST_F(PeerWatchTest, OnGoneMayDestroyTheWatch) {
  SocketPair pair = unixPair();
  watch_ = std::make_unique<PeerWatch>(base_, pair.ours, [this] {
    watch_.reset();
    ++gone_;
  });
  pair.closeTheirs();
  ASSERT_TRUE(runUntil([&] { return gone_ > 0; }));
  EXPECT_EQ(watch_, nullptr);
}

TEST_F(PeerWatchTest, OnGoneThrowingIsContained) {
  SocketPair pair = unixPair();
  watch_ = std::make_unique<PeerWatch>(base_, pair.ours, [this] {
    ++gone_;
    throw std::runtime_error("boom");
  });
  pair.closeTheirs();
  ASSERT_TRUE(runUntil([&] { return gone_ > 0; }));
  spin();
  EXPECT_EQ(gone_, 1);
}

TEST(PeerGoneTest, FalseForAnIdleLiveConnection) {
  SocketPair pair = tcpPair();
  EXPECT_FALSE(PeerWatch::peerGone(pair.ours));
}

}  // namespace
}  // namespace courier::http
