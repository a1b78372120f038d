// Runs the update command: no shell, bounded in time and in captured output, cancellable.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

namespace courier::daemon {

struct CommandOutcome {
  bool started = false;
  std::string error;       // why it could not start (with started == false)
  int exit_code = -1;      // its exit status, or 128 + the signal that ended it
  bool timed_out = false;  // killed at the deadline
  bool cancelled = false;  // killed because *cancel became true
  std::string output;      // stdout and stderr interleaved: the last max_output bytes
  size_t dropped = 0;      // bytes dropped from the front of the output
};

// Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null, stdout and stderr into one
// pipe, in its own process group. Blocks the calling thread until the process exits, or until
// `timeout_ms` passed or `*cancel` became true — then the whole process group is SIGKILLed and
// reaped. Once the process has exited, output still buffered is read but a background child
// holding the pipe open is not waited for.
CommandOutcome runCommand(const std::vector<std::string>& argv, int timeout_ms, size_t max_output,
                          const std::atomic<bool>* cancel = nullptr);

}  // namespace courier::daemon
