// Child processes for tests: a generic ChildProcess, and NodeProcess, which runs the courier node
// on a free loopback port and waits until it serves.
//
// Both only ever signal the one pid they forked, and forget it once reaped, so a recycled pid is
// never hit. Children are killed with the test binary (PR_SET_PDEATHSIG): a crashed test run does
// not leave nodes or redis-servers behind. Not thread-safe: drive each object from one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace courier::testing {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// One child process with stdout and stderr appended to `log_path` (or inherited when empty) and
// stdin from /dev/null. The child inherits this process's environment plus `env` (which wins).
// argv[0] without a '/' is looked up in PATH.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, EnvVars env = {}, std::string log_path = "");
  ~ChildProcess();  // SIGKILLs and reaps the child if it is still running.

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Forks and execs. False (with the reason in lastError()) if it could not fork, or if the
  // program could not be executed. May be called again once the previous child has ended.
  bool start();

  // True while the child has not exited (reaps it if it has).
  bool running();

  // Waits for the child to exit, at most `timeout_ms` (< 0: forever). Returns its exit code,
  // 128 + signal if a signal ended it, or -1 on timeout or if it was never started. Also returns
  // the recorded status when called again after the child was reaped.
  int wait(int timeout_ms = -1);

  // SIGTERM, then up to `timeout_ms` for it to exit. Returns as wait() does; if the child hangs it
  // is SIGKILLed and -1 is returned.
  int terminate(int timeout_ms = 10000);

  // SIGKILL and reap.
  void kill9();

  // Sends `sig` to the child if it is running (e.g. SIGSTOP / SIGCONT to simulate a stall).
  void signal(int sig);

  pid_t pid() const { return pid_; }  // -1 when not running
  const std::vector<std::string>& argv() const { return argv_; }
  const std::string& logPath() const { return log_path_; }
  // The captured output so far ("" without a log file).
  std::string log() const;
  const std::string& lastError() const { return error_; }

 private:
  // Records `status` (from waitpid) and forgets the pid.
  int reaped(int status);

  std::vector<std::string> argv_;
  EnvVars env_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string error_;
};

// The node binary, $COURIER_BUILD/courier (COURIER_BUILD defaults to "build"), with `args`, plus
// `--listen 127.0.0.1:0` unless `args` already has a --listen. Its output goes to a log file in a
// private temp dir, which the destructor removes.
class NodeProcess {
 public:
  explicit NodeProcess(std::vector<std::string> args, EnvVars env = {});
  ~NodeProcess();

  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts the node and waits (up to 15 s) for "listening on HOST:PORT" in its log. On failure
  // (could not start, exited, timed out) records a GoogleTest failure that includes the log, kills
  // the node and returns false: use ASSERT_TRUE(node.start()). Can be called again after
  // terminate()/kill9() to restart the same node (a fresh port unless --listen fixes one).
  bool start();

  int port() const { return port_; }
  std::string baseUrl() const;  // "http://127.0.0.1:PORT"
  pid_t pid() const { return child_.pid(); }
  bool running() { return child_.running(); }

  int terminate(int timeout_ms = 10000) { return child_.terminate(timeout_ms); }
  void kill9() { child_.kill9(); }
  int wait(int timeout_ms = -1) { return child_.wait(timeout_ms); }
  void signal(int sig) { child_.signal(sig); }

  std::string log() const { return child_.log(); }
  // A private directory for the node's files (e.g. a --kinds file), removed with the object.
  const std::string& tempDir() const { return temp_dir_; }
  ChildProcess& child() { return child_; }

 private:
  static std::vector<std::string> commandLine(std::vector<std::string> args);

  std::string temp_dir_;
  ChildProcess child_;
  int port_ = 0;
  std::string host_;
};

// A private directory under $TMPDIR (or /tmp), e.g. "/tmp/courier-node-Ab12Cd".
std::string makeTempDir(const std::string& prefix);

}  // namespace courier::testing
