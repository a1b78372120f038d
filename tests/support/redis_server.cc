#include "support/redis_server.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace courier::testing {

namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(10);
constexpr int kStopTimeoutMs = 10000;

// Binds 127.0.0.1:0, reads the port the kernel chose and closes. redis-server binds it a moment
// later; the tiny race with another process is covered by start() retrying with a new port.
int findFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind/getsockname: ") + std::strerror(e));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Resolved before fork(): between fork and exec only async-signal-safe calls are allowed.
std::string findRedisServer() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  dirs += ":/usr/sbin:/usr/local/sbin";
  std::stringstream ss(dirs);
  std::string d;
  while (std::getline(ss, d, ':')) {
    if (d.empty()) continue;
    std::string candidate = d + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("redis-server not found in PATH");
}

void renderReply(const redisReply* r, std::string* out) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out->append(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out->append(std::to_string(r->integer));
      break;
    case REDIS_REPLY_NIL:
      out->append("(nil)");
      break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out->push_back('\n');
        renderReply(r->element[i], out);
      }
      break;
    default:
      out->append("(unknown reply type)");
  }
}

}  // namespace

RedisServer::RedisServer() : RedisServer(Options()) {}

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp && *tmp && std::strlen(tmp) < 60) ? tmp : "/tmp";
  std::string tmpl = base + "/courier-redis-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  dir_ = tmpl;
}

RedisServer::~RedisServer() {
  try {
    stop();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

void RedisServer::start() {
  if (pid_ > 0) return;
  bool fixed_port = port_ != 0;  // restart(): keep the port clients already know
  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!fixed_port) port_ = findFreePort();
    spawn();
    if (waitReady(&why)) return;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap(kStopTimeoutMs);
    }
    // A port taken in the meantime (or still held by a dying predecessor): retry.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) + ": " +
                           why + "\n--- log " + dir_ + "/redis.log ---\n" + readLog());
}

void RedisServer::spawn() {
  std::string exe = findRedisServer();
  std::vector<std::string> args = {exe,
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(port_),
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.appendonly ? "yes" : "no",
                                   "--appendfsync",
                                   "always",
                                   "--dir",
                                   dir_,
                                   "--unixsocket",
                                   unixPath(),
                                   "--unixsocketperm",
                                   "700",
                                   "--daemonize",
                                   "no",
                                   "--loglevel",
                                   "warning"};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::string log = dir_ + "/redis.log";
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error("open " + log + ": " + std::strerror(errno));
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(log_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::setpgid(0, 0);  // a ^C on the test binary's terminal reaches us through PDEATHSIG only
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

bool RedisServer::waitReady(std::string* why) {
  auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *why = "redis-server exited (status " + std::to_string(status) + ")";
      return false;
    }
    timeval tv{0, 200000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err == 0) {
      redisSetTimeout(c, tv);
      auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
      bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG";
      if (r != nullptr) {
        *why = std::string("PING answered: ") + (r->str ? r->str : "?");
        freeReplyObject(r);
      }
      redisFree(c);
      // Also require the Unix socket: some tests connect through it.
      struct stat st {};
      if (ok && ::stat(unixPath().c_str(), &st) == 0) return true;
    } else {
      *why = c != nullptr ? c->errstr : "redisConnect failed";
      if (c != nullptr) redisFree(c);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *why = "no PONG within 10 s (last: " + *why + ")";
  return false;
}

void RedisServer::reap(int timeout_ms) {
  if (pid_ <= 0) return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void RedisServer::stop() {
  closeSync();
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);  // a paused server would never handle SIGTERM
  ::kill(pid_, SIGTERM);
  reap(kStopTimeoutMs);
}

void RedisServer::kill9() {
  closeSync();
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(kStopTimeoutMs);
}

void RedisServer::restart() {
  stop();
  start();
}

void RedisServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void RedisServer::closeSync() {
  if (sync_ != nullptr) {
    redisFree(sync_);
    sync_ = nullptr;
  }
}

std::string RedisServer::readLog() const {
  std::ifstream in(dir_ + "/redis.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RedisServer::cmd(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  // One retry on a fresh connection: the cached one may predate a restart.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sync_ == nullptr) {
      timeval tv{10, 0};
      sync_ = redisConnectWithTimeout("127.0.0.1", port_, tv);
      if (sync_ == nullptr || sync_->err != 0) {
        std::string err = sync_ != nullptr ? sync_->errstr : "out of memory";
        closeSync();
        if (attempt == 1) throw std::runtime_error("RedisServer::cmd: connect: " + err);
        continue;
      }
      redisSetTimeout(sync_, tv);
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(sync_, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
    if (r == nullptr) {
      std::string err = sync_->errstr;
      closeSync();
      if (attempt == 1) throw std::runtime_error("RedisServer::cmd: " + err);
      continue;
    }
    std::string out;
    renderReply(r, &out);
    freeReplyObject(r);
    return out;
  }
  throw std::runtime_error("RedisServer::cmd: unreachable");
}

long long RedisServer::cmdInt(const std::vector<std::string>& argv) {
  std::string text = cmd(argv);
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw std::runtime_error("RedisServer::cmdInt: not an integer reply: " + text);
}

bool runUntil(event_base* base, const std::function<bool()>& done, int timeout_ms) {
  // A persistent 5 ms tick bounds each EVLOOP_ONCE turn, so the deadline is checked even when
  // nothing else happens (and the loop never spins when no event is pending).
  event* tick = event_new(
      base, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
  timeval tv{0, 5000};
  event_add(tick, &tv);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool ok = done();
  while (!ok && std::chrono::steady_clock::now() < deadline) {
    event_base_loop(base, EVLOOP_ONCE);
    ok = done();
  }
  event_free(tick);
  return ok;
}

}  // namespace courier::testing
