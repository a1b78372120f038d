#include "courier/bench/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace courier::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Resolved in the parent: after fork() the child may only make async-signal-safe calls, and
// execvp's PATH search allocates.
std::string resolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;
}

int statusToCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, Options options)
    : argv_(std::move(argv)), options_(std::move(options)) {}

ChildProcess::~ChildProcess() {
  terminate(5000);
  closeFd(stdin_fd_);
  closeFd(stdout_fd_);
}

bool ChildProcess::start() {
  error_.clear();
  if (pid_ > 0 || argv_.empty()) {
    error_ = pid_ > 0 ? "already running" : "empty argv";
    return false;
  }
  const std::string program = resolveProgram(argv_[0]);
  std::vector<std::string> args = argv_;
  std::vector<char*> c_args;
  for (auto& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);

  const std::string log = options_.log_path.empty() ? "/dev/null" : options_.log_path;
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int report[2] = {-1, -1};  // a failed execve writes its errno here; a good one closes it
  bool ok = log_fd >= 0 && null_fd >= 0 && ::pipe2(report, O_CLOEXEC) == 0;
  if (ok && options_.pipe_stdio) {
    ok = ::pipe2(in_pipe, O_CLOEXEC) == 0 && ::pipe2(out_pipe, O_CLOEXEC) == 0;
  }
  const auto cleanup = [&] {
    for (int fd : {log_fd, null_fd, in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], report[0],
                   report[1]}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (!ok) {
    error_ = std::string("open/pipe: ") + std::strerror(errno);
    cleanup();
    return false;
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    cleanup();
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    // A Ctrl-C in the terminal goes to the harness only; it stops its children itself.
    ::setpgid(0, 0);
    ::dup2(options_.pipe_stdio ? in_pipe[0] : null_fd, STDIN_FILENO);
    ::dup2(options_.pipe_stdio ? out_pipe[1] : log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(program.c_str(), c_args.data(), environ);
    const int err = errno;
    ssize_t ignored = ::write(report[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }

  ::close(report[1]);
  report[1] = -1;
  ::close(log_fd);
  ::close(null_fd);
  if (options_.pipe_stdio) {
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    stdin_fd_ = in_pipe[1];
    stdout_fd_ = out_pipe[0];
  }
  pid_ = pid;
  exit_code_ = -1;
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    error_ = "exec " + program + ": " + std::strerror(exec_errno);
    wait(5000);
    return false;
  }
  return true;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exit_code_ = r == pid_ ? statusToCode(status) : -1;
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::wait(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (running()) {
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

int ChildProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return exit_code_;
  ::kill(pid_, SIGTERM);
  const int code = wait(timeout_ms);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait(5000);
    return -1;
  }
  return code;
}

std::string ChildProcess::log() const {
  return options_.log_path.empty() ? "" : readFile(options_.log_path);
}

bool ChildProcess::writeStdin(const std::string& data) {
  size_t off = 0;
  while (stdin_fd_ >= 0 && off < data.size()) {
    const ssize_t n = ::write(stdin_fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return stdin_fd_ >= 0;
}

std::optional<std::string> ChildProcess::readLine(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const size_t nl = stdout_buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = stdout_buf_.substr(0, nl);
      stdout_buf_.erase(0, nl + 1);
      return line;
    }
    if (stdout_fd_ < 0) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || g_interrupted.load()) return std::nullopt;
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 100)));
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (r <= 0) continue;
    char buf[65536];
    const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closeFd(stdout_fd_);
      continue;
    }
    stdout_buf_.append(buf, static_cast<size_t>(n));
  }
}

int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string makeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return "";
  return templ;
}

void removeTree(const std::string& path) {
  if (path.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::optional<std::string> waitForLogLine(ChildProcess& child, const std::string& marker,
                                          int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline && !g_interrupted.load()) {
    const std::string log = child.log();
    const size_t at = log.find(marker);
    if (at != std::string::npos) {
      const size_t begin = at + marker.size();
      const size_t end = log.find('\n', begin);
      if (end != std::string::npos) return log.substr(begin, end - begin);
    }
    if (!child.running()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

int64_t processCpuUs(pid_t pid) {
  // /proc/PID/stat: the command name (field 2) may hold spaces, so parse after its ')'.
  const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  int64_t utime = 0;
  int64_t stime = 0;
  // After ')': state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoll(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoll(field.c_str(), nullptr, 10);
  }
  const long hz = ::sysconf(_SC_CLK_TCK);
  return (utime + stime) * 1000000 / (hz > 0 ? hz : 100);
}

int64_t processRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

int64_t selfCpuUs() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

int64_t machineBusyCpuUs() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  int64_t v[8] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  if (cpu != "cpu") return -1;
  // user nice system idle iowait irq softirq steal
  const int64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  const long hz = ::sysconf(_SC_CLK_TCK);
  return busy * 1000000 / (hz > 0 ? hz : 100);
}

uint64_t raiseFdLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

RedisProcess::RedisProcess(std::string redis_bin) : bin_(std::move(redis_bin)) {}

RedisProcess::~RedisProcess() {
  child_.reset();
  removeTree(dir_);
}

bool RedisProcess::start(std::string* why) {
  dir_ = makeTempDir("courier-bench-redis");
  endpoint_.port = freeLoopbackPort();
  if (dir_.empty() || endpoint_.port == 0) {
    *why = "no temp dir or free port";
    return false;
  }
  child_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{bin_, "--port", std::to_string(endpoint_.port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir_,
                               "--maxmemory-policy", "noeviction", "--maxclients", "20000",
                               "--protected-mode", "no"},
      ChildProcess::Options{.log_path = dir_ + "/redis.log", .pipe_stdio = false});
  if (!child_->start()) {
    *why = child_->error();
    return false;
  }
  if (!waitForLogLine(*child_, "Ready to accept connections", 10000)) {
    *why = "redis-server did not start:\n" + child_->log();
    return false;
  }
  return true;
}

NodeProcess::NodeProcess(std::string bin, std::string redis_url, std::string admin_token,
                         int workers, std::string log_path)
    : child_({std::move(bin), "--redis-url", std::move(redis_url), "--admin-token",
              std::move(admin_token), "--listen", "127.0.0.1:0", "--workers",
              std::to_string(workers), "--log-level", "warn"},
             ChildProcess::Options{.log_path = std::move(log_path), .pipe_stdio = false}) {}

NodeProcess::~NodeProcess() { child_.terminate(8000); }

bool NodeProcess::start(std::string* why) {
  if (!child_.start()) {
    *why = child_.error();
    return false;
  }
  // "listening on 127.0.0.1:PORT (1 workers, …)"
  const auto rest = waitForLogLine(child_, "listening on ", 20000);
  if (!rest) {
    *why = "node did not report 'listening on' within 20 s:\n" + child_.log();
    return false;
  }
  const size_t end = rest->find_first_of(" \",");
  const std::string address = rest->substr(0, end);
  const size_t colon = address.rfind(':');
  endpoint_.port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
  if (endpoint_.port <= 0) {
    *why = "cannot parse the node's address from: " + *rest;
    return false;
  }
  return true;
}

}  // namespace courier::bench
