// Helpers for end-to-end tests: run the CLI, inspect processes and files.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace test_support {

struct Output {
  int status = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// Runs argv (argv[0] a path) with extra environment, capturing stdout and stderr. $PG_CONFIGS is
// not passed on unless `env` names it (see fork_exec).
Output run(const std::vector<std::string>& argv,
           const std::vector<std::pair<std::string, std::string>>& env = {});

// Starts argv in the background with stdout to a pipe; returns pid and the read end.
struct Background {
  pid_t pid = -1;
  int out_fd = -1;
};
Background spawn(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env = {});
// Reads one line from fd (blocking).
std::string read_line(int fd);
int wait_exit(pid_t pid);

// The CLI under test (built next to the tests; $PGUT_TEST_CLI if set).
std::string cli();

// A second local user for tests that play a hostile user: created once (useradd --system) when
// the tests run as root; nullopt otherwise (the test skips).
struct LocalUser {
  uid_t uid;
  gid_t gid;
};
std::optional<LocalUser> hostile_user();
// Runs `action` in a child process as `user`; returns its exit status.
int as_user(const LocalUser& user, const std::function<int()>& action);

// The fields of /proc/PID/stat, numbered as proc(5) numbers them (out[1] the pid, out[3] the
// state, out[14] utime ...; out[0] is empty); empty if the process is gone.
std::vector<std::string> stat_fields(pid_t pid);
// True if the process exists and is not a zombie.
bool alive(pid_t pid);
uid_t process_uid(pid_t pid);

// Polls `condition` until it holds or `limit` passes (tests wait for cleanup, they do not time it:
// the limit is only there so that a hung test ends, and is generous because a loaded CI machine
// took over 20 s to stop a spare).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(90));

// Removes a directory tree, retrying while background work of the harness (a keeper's spare copy
// finishing) still writes into it; true when it is gone.
bool remove_tree_eventually(const std::filesystem::path& path);

// Processes whose command line or environment contains `needle`.
std::vector<pid_t> processes_matching(const std::string& needle);
// The command line of a process, arguments separated by blanks (empty if it is gone).
std::string command_line(pid_t pid);

}  // namespace test_support
