#include "courier/node/embedded_redis.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace courier::node {

EmbeddedRedis::~EmbeddedRedis() { stop(); }

Result<Unit, std::string> EmbeddedRedis::start() {
  char tmpl[] = "/tmp/courier-redis-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return fail(std::string("cannot create a temp dir for Redis"));
  dir_ = tmpl;
  socket_ = dir_ + "/redis.sock";
  std::string log = dir_ + "/redis.log";
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) return fail(std::string("fork failed"));
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", socket_.c_str(),
           "--unixsocketperm", "700", "--dir", dir_.c_str(), "--save", "", "--appendonly", "no",
           "--maxmemory-policy", "noeviction", "--logfile", log.c_str(), "--daemonize", "no",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return fail("redis-server exited at start (is the redis-server package installed?); see " +
                  log);
    }
    if (redisContext* c = redisConnectUnix(socket_.c_str()); c != nullptr) {
      bool ok = false;
      if (c->err == 0) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
        if (r != nullptr) freeReplyObject(r);
      }
      redisFree(c);
      if (ok) return Unit{};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  return fail("redis-server did not answer within 10 s; see " + log);
}

void EmbeddedRedis::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

}  // namespace courier::node
