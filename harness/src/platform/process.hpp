// Starting and waiting for child processes. Hand-written on fork/exec because the harness needs
// what no portable library offers together: switching to the server user, a new session,
// PR_SET_PDEATHSIG, and passing chosen file descriptors at fixed numbers.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pg_unit_tests::platform {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
};

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is the program path (no PATH search)
  // Environment changes applied to this process's environment; an empty value unsets.
  std::vector<std::pair<std::string, std::string>> env;
  bool clear_env = false;
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;  // -1: /dev/null
  // Further descriptors, dup'ed to the given numbers in the child (which must be >= 3).
  std::vector<std::pair<int, int>> fds;  // {fd in parent, fd in child}
  std::optional<Credentials> as;         // switch to this user (needs root)
  bool new_session = false;
  int parent_death_signal = 0;  // signal sent to the child when its parent dies
  int nice = 0;                 // added to the scheduling priority (positive: lower)
  // Not our child: started through an intermediate process that exits at once, so nobody has to
  // wait for it (a process that outlives its starter, like the keeper of a detached server).
  bool detach = false;
  std::filesystem::path cwd;
};

// Starts the process; returns its pid. Throws Error(kSystem) if it cannot be started (exec
// failure included).
pid_t spawn(const SpawnSpec& spec);

// Waits for the process; returns its exit status, or 128 + signal number if a signal ended it.
int wait_for(pid_t pid);
// Non-blocking: the status if the process has ended.
std::optional<int> try_wait(pid_t pid);

struct RunResult {
  int status = 0;
  std::string output;  // stdout and stderr together
};

// Runs a program to completion and captures its output (for initdb, pg_config, make...);
// `parent_death_signal` and `fds` as in SpawnSpec.
RunResult run(const std::vector<std::string>& argv, const std::optional<Credentials>& as = {},
              const std::filesystem::path& cwd = {},
              const std::vector<std::pair<std::string, std::string>>& env = {},
              int parent_death_signal = 0, const std::vector<std::pair<int, int>>& fds = {});

// Finds a program on PATH; empty if not found.
std::filesystem::path find_on_path(const std::string& name);

// The absolute path of this process's executable.
std::filesystem::path self_executable();

// The exit status of a child (from waitpid) as a shell would report it.
int decode_status(int wait_status);

}  // namespace pg_unit_tests::platform
