#include "courier/daemon/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "courier/util/time.h"

extern char** environ;

namespace courier::daemon {
namespace {

int statusCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Appends to the captured output, keeping only its last `max` bytes.
void keepTail(CommandOutcome& out, const char* data, size_t n, size_t max) {
  out.output.append(data, n);
  if (out.output.size() > 2 * max) {
    const size_t cut = out.output.size() - max;
    out.output.erase(0, cut);
    out.dropped += cut;
  }
}

}  // namespace

CommandOutcome runCommand(const std::vector<std::string>& argv, int timeout_ms, size_t max_output,
                          const std::atomic<bool>* cancel) {
  CommandOutcome out;
  if (argv.empty()) {
    out.error = "empty command";
    return out;
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    out.error = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a timeout kills whatever it started too; default signal handling
  // (the daemon ignores SIGPIPE, and an ignored signal would stay ignored across exec).
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    out.error = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return out;
  }
  out.started = true;
  const int fd = pipe_fds[0];
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  const int64_t deadline = monotonicMs() + timeout_ms;
  bool eof = false, exited = false;
  int status = 0;
  char buf[16384];
  while (true) {
    if (!eof) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, exited ? 0 : 100);
      while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
          keepTail(out, buf, static_cast<size_t>(n), max_output);
          continue;
        }
        if (n == 0) eof = true;
        if (n < 0 && errno == EINTR) continue;
        break;  // EAGAIN: nothing more for now
      }
    } else if (!exited) {
      ::usleep(20 * 1000);
    }
    if (!exited) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) {
        exited = true;
        continue;  // one more pass reads what it wrote last
      }
    }
    if (exited) break;
    const bool stop = cancel != nullptr && cancel->load();
    if (stop || monotonicMs() >= deadline) {
      (stop ? out.cancelled : out.timed_out) = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
      break;
    }
  }
  ::close(fd);
  out.exit_code = statusCode(status);
  if (out.output.size() > max_output) {
    const size_t cut = out.output.size() - max_output;
    out.output.erase(0, cut);
    out.dropped += cut;
  }
  return out;
}

}  // namespace courier::daemon
