// A private redis-server for integration tests: started on a free loopback port and a Unix socket
// in its own temp dir, stopped (and the dir removed) by the destructor.
//
// Only ever signals the process it started, by pid. The child gets PR_SET_PDEATHSIG(SIGKILL), so
// a crashed test binary does not leave servers behind; this is tied to the *thread* that called
// start(), so start it from the test's main thread (or a thread that outlives the server).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

struct event_base;
struct redisContext;

namespace courier::testing {

class RedisServer {
 public:
  struct Options {
    bool appendonly = false;  // with appendfsync always, so kill9() + restart() loses nothing
    // Appended to the command line, e.g. {"--maxclients", "5"}.
    std::vector<std::string> extra_args = {};
  };

  RedisServer();
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Picks a free port (the first time), starts redis-server and waits (≤ 10 s) until PING
  // answers. Throws std::runtime_error with the server's log on failure.
  void start();
  // SIGTERM (after SIGCONT, in case it is paused) and waitpid; SIGKILL if it takes > 10 s.
  void stop();
  // SIGKILL and waitpid: the "Redis crashed" case.
  void kill9();
  // Stops if running, then starts again on the same port and dir (AOF data survives).
  void restart();
  // SIGSTOP / SIGCONT: a stalled server keeps its sockets open but answers nothing.
  void pause();
  void resume();

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:PORT
  std::string unixPath() const { return dir_ + "/redis.sock"; }
  std::string dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Synchronous helpers over one lazily opened hiredis connection (TCP, 10 s timeout). The
  // reply rendered as text: strings and statuses as is, integers in decimal, nil as "(nil)",
  // errors as their text ("ERR ..."), arrays as their elements joined by "\n".
  // Throws std::runtime_error if the server cannot be reached.
  std::string cmd(const std::vector<std::string>& argv);
  // The integer reply (or a string holding one); throws if it is neither.
  long long cmdInt(const std::vector<std::string>& argv);

 private:
  void spawn();
  bool waitReady(std::string* why);
  void reap(int timeout_ms);
  void closeSync();
  std::string readLog() const;

  Options options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  redisContext* sync_ = nullptr;  // owned; reset whenever the server goes away
};

// Runs `base` until `done()` holds or `timeout_ms` passed; returns done(). Tests wait for
// conditions this way instead of sleeping (no timing assertions: the deadline is generous).
bool runUntil(event_base* base, const std::function<bool()>& done, int timeout_ms = 10000);

}  // namespace courier::testing
