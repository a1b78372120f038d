// The processes courier-bench runs: a private redis-server, the node(s), nginx, the BullMQ
// peer; and what it reads about them from /proc.
//
// Each child is signalled only by the pid this process forked, and forgotten once reaped, so a
// recycled pid is never hit. Children get PR_SET_PDEATHSIG(SIGKILL): a harness that crashes
// does not leave servers behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "courier/bench/common.h"

namespace courier::bench {

class ChildProcess {
 public:
  struct Options {
    std::string log_path;     // stdout and stderr appended here ("" → /dev/null)
    bool pipe_stdio = false;  // stdin and stdout become pipes (stderr still goes to the log)
  };

  ChildProcess(std::vector<std::string> argv, Options options);
  ~ChildProcess();  // terminate(5000) if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Forks and execs; false with the reason in error() if the program could not be run.
  bool start();
  bool running();
  // Exit code, 128 + signal, or -1 on timeout / never started.
  int wait(int timeout_ms);
  // SIGTERM, up to `timeout_ms`, then SIGKILL. Returns as wait() does.
  int terminate(int timeout_ms);

  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }
  const std::string& logPath() const { return options_.log_path; }
  std::string log() const;

  // With pipe_stdio: write to the child's stdin, and read one line of its stdout (without the
  // '\n') within `timeout_ms`; nullopt on timeout or EOF.
  bool writeStdin(const std::string& data);
  std::optional<std::string> readLine(int timeout_ms);

 private:
  std::vector<std::string> argv_;
  Options options_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buf_;
  std::string error_;
};

// Finds a free TCP port on 127.0.0.1 (bind port 0, read it, close). Racy by nature; the
// servers that use it fail loudly if somebody took it meanwhile.
int freeLoopbackPort();

// A private directory under $TMPDIR or /tmp; removed by removeTree().
std::string makeTempDir(const std::string& prefix);
void removeTree(const std::string& path);

// Waits until the file at `path` contains `marker`; returns the rest of that line, or nullopt
// after `timeout_ms` or once `child` exited.
std::optional<std::string> waitForLogLine(ChildProcess& child, const std::string& marker,
                                          int timeout_ms);

// CPU time (user + system, all threads) of a process, in microseconds; -1 if unreadable.
int64_t processCpuUs(pid_t pid);
// Resident set size of a process in KiB (VmRSS); -1 if unreadable.
int64_t processRssKib(pid_t pid);
// CPU time of this process (getrusage), in microseconds.
int64_t selfCpuUs();
// Busy CPU time of the whole machine (all cores; /proc/stat minus idle and iowait), in µs.
int64_t machineBusyCpuUs();

// Raises RLIMIT_NOFILE's soft limit to its hard limit (children inherit it). Returns the limit.
uint64_t raiseFdLimit();

// A private redis-server on a free loopback port: no persistence, noeviction (BullMQ wants it,
// and Courier's design says so too).
class RedisProcess {
 public:
  explicit RedisProcess(std::string redis_bin = "redis-server");
  ~RedisProcess();
  bool start(std::string* why);
  const Endpoint& endpoint() const { return endpoint_; }
  std::string url() const { return "redis://" + endpoint_.str(); }
  pid_t pid() const { return child_ ? child_->pid() : -1; }

 private:
  std::string bin_;
  std::string dir_;
  Endpoint endpoint_;
  std::unique_ptr<ChildProcess> child_;
};

// One courier node: `--listen 127.0.0.1:0`, waits for "listening on HOST:PORT" (≤ 20 s).
class NodeProcess {
 public:
  NodeProcess(std::string bin, std::string redis_url, std::string admin_token, int workers,
              std::string log_path);
  ~NodeProcess();
  bool start(std::string* why);
  const Endpoint& endpoint() const { return endpoint_; }
  pid_t pid() const { return child_.pid(); }
  std::string log() const { return child_.log(); }
  int terminate() { return child_.terminate(8000); }

 private:
  ChildProcess child_;
  Endpoint endpoint_;
};

}  // namespace courier::bench
