#include "support/node_process.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace courier::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Resolves `program` against PATH in the parent: after fork() the child may only make
// async-signal-safe calls, and execvp's PATH search allocates.
std::string resolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;  // execve fails with ENOENT, reported by start().
}

// This process's environment with `overrides` applied (an override replaces the inherited value).
std::vector<std::string> childEnvironment(const EnvVars& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    const bool overridden = std::any_of(overrides.begin(), overrides.end(),
                                        [&](const auto& kv) { return kv.first == name; });
    if (!overridden) out.emplace_back(entry);
  }
  for (const auto& [name, value] : overrides) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
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

// Finds "listening on HOST:PORT" in `log` and returns {host, port}, or {"", 0} if there is no
// complete such line yet (the port must be followed by something, so a half-written line is not
// mistaken for a shorter port).
std::pair<std::string, int> findListeningLine(std::string_view log) {
  constexpr std::string_view kMarker = "listening on ";
  const size_t at = log.find(kMarker);
  if (at == std::string_view::npos) return {"", 0};
  const size_t begin = at + kMarker.size();
  size_t end = begin;
  while (end < log.size() && !std::isspace(static_cast<unsigned char>(log[end])) &&
         log[end] != '"' && log[end] != ',') {
    ++end;
  }
  if (end == log.size()) return {"", 0};
  std::string_view address = log.substr(begin, end - begin);
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == address.size()) return {"", 0};
  int port = 0;
  for (char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9') return {"", 0};
    port = port * 10 + (c - '0');
    if (port > 65535) return {"", 0};
  }
  return {std::string(address.substr(0, colon)), port};
}

}  // namespace

std::string makeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << templ << "): " << std::strerror(errno);
    return "";
  }
  return templ;
}

ChildProcess::ChildProcess(std::vector<std::string> argv, EnvVars env, std::string log_path)
    : argv_(std::move(argv)), env_(std::move(env)), log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() { kill9(); }

bool ChildProcess::start() {
  error_.clear();
  if (pid_ > 0 && running()) {
    error_ = "already running";
    return false;
  }
  if (argv_.empty()) {
    error_ = "empty argv";
    return false;
  }
  // Everything the child needs is prepared here, before fork().
  const std::string program = resolveProgram(argv_[0]);
  std::vector<std::string> args = argv_;
  std::vector<char*> c_args = cStrings(args);
  std::vector<std::string> environment = childEnvironment(env_);
  std::vector<char*> c_env = cStrings(environment);

  int log_fd = -1;
  if (!log_path_.empty()) {
    log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      error_ = "open(" + log_path_ + "): " + std::strerror(errno);
      return false;
    }
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // The child reports a failed execve through this pipe; a successful exec closes it (CLOEXEC),
  // so the parent reads EOF.
  int report[2];
  if (null_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    error_ = std::string("open/pipe: ") + std::strerror(errno);
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return false;
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    for (int fd : {log_fd, null_fd, report[0], report[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return false;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only from here on.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // The test binary died before prctl took effect.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // An ignored signal would stay ignored across exec.
    ::dup2(null_fd, STDIN_FILENO);
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
    }
    ::execve(program.c_str(), c_args.data(), c_env.data());
    const int err = errno;
    ssize_t ignored = ::write(report[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }

  ::close(report[1]);
  if (log_fd >= 0) ::close(log_fd);
  ::close(null_fd);
  pid_ = pid;
  exit_status_ = -1;
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    error_ = "exec " + program + ": " + std::strerror(exec_errno);
    wait();
    return false;
  }
  return true;
}

int ChildProcess::reaped(int status) {
  pid_ = -1;
  exit_status_ = statusToCode(status);
  return exit_status_;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped(status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {  // Reaped elsewhere (should not happen): forget the pid.
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::wait(int timeout_ms) {
  if (pid_ <= 0) return exit_status_;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, timeout_ms < 0 ? 0 : WNOHANG);
    if (r == pid_) return reaped(status);
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return -1;
    }
    if (timeout_ms >= 0 && Clock::now() >= deadline) return -1;
    if (r == 0) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
  }
}

int ChildProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // A stopped child would not act on SIGTERM until continued.
  const int code = wait(timeout_ms);
  if (pid_ > 0) {
    kill9();
    return -1;
  }
  return code;
}

void ChildProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait();
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::string ChildProcess::log() const { return log_path_.empty() ? "" : readFile(log_path_); }

NodeProcess::NodeProcess(std::vector<std::string> args, EnvVars env)
    : temp_dir_(makeTempDir("courier-node")),
      child_(commandLine(std::move(args)), std::move(env), temp_dir_ + "/node.log") {}

NodeProcess::~NodeProcess() {
  child_.kill9();
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
}

std::vector<std::string> NodeProcess::commandLine(std::vector<std::string> args) {
  const char* build = std::getenv("COURIER_BUILD");
  std::vector<std::string> argv{std::string(build != nullptr && *build != '\0' ? build : "build") +
                                "/courier"};
  const bool has_listen = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--listen" || a.rfind("--listen=", 0) == 0;
  });
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  if (!has_listen) {
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:0");
  }
  return argv;
}

bool NodeProcess::start() {
  port_ = 0;
  host_.clear();
  // On a restart the log already holds the previous run's "listening on": look past it.
  const size_t offset = child_.log().size();
  const auto fail = [&](const std::string& why) {
    child_.kill9();
    ADD_FAILURE() << "node " << child_.argv()[0] << ": " << why << "\n--- node log ("
                  << child_.logPath() << ") ---\n"
                  << child_.log().substr(offset);
    return false;
  };
  if (temp_dir_.empty()) return fail("no temp dir");
  if (!child_.start()) return fail(child_.lastError());

  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (true) {
    const std::string log = child_.log();
    auto [host, port] =
        findListeningLine(std::string_view(log).substr(std::min(offset, log.size())));
    if (port > 0) {
      host_ = host;
      port_ = port;
      return true;
    }
    if (!child_.running()) {
      return fail("exited with status " + std::to_string(child_.wait()) +
                  " before it was listening");
    }
    if (Clock::now() >= deadline) return fail("not listening after 15 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string NodeProcess::baseUrl() const {
  const std::string host = (host_.empty() || host_ == "0.0.0.0") ? "127.0.0.1" : host_;
  return "http://" + host + ":" + std::to_string(port_);
}

}  // namespace courier::testing
