#include "platform/process.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/fd.hpp"
#include "platform/fs.hpp"

extern char** environ;

namespace pg_unit_tests::platform {

namespace {

std::vector<std::string> build_environment(const SpawnSpec& spec) {
  std::vector<std::string> env;
  if (!spec.clear_env) {
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  }
  for (const auto& [name, value] : spec.env) {
    const std::string prefix = name + "=";
    std::erase_if(env,
                  [&](const std::string& s) { return s.compare(0, prefix.size(), prefix) == 0; });
    if (!value.empty()) env.push_back(prefix + value);
  }
  return env;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child between fork and exec only async-signal-safe calls are allowed (the parent may have
// threads), so everything is prepared before fork and errors are reported as an errno over a pipe.
// The report pipe's record of the pid of a detached process (errors carry a step number >= 1).
constexpr int kPidRecord = -1;

[[noreturn]] void child_fail(int report_fd, int step) {
  int e[2] = {step, errno};
  ssize_t ignored = write(report_fd, e, sizeof e);
  (void)ignored;
  _exit(127);
}

}  // namespace

pid_t spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) throw Error(ExitCode::kSystem, "spawn: empty command");
  std::vector<std::string> argv_strings = spec.argv;
  std::vector<std::string> env_strings = build_environment(spec);
  std::vector<char*> argv = c_array(argv_strings);
  std::vector<char*> envp = c_array(env_strings);
  const std::string cwd = spec.cwd.string();

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    throw Error(ExitCode::kSystem,
                fmt::format("could not create a pipe: {}", std::strerror(errno)));
  }
  Fd report_read(report[0]), report_write(report[1]);

  const pid_t pid = fork();
  if (pid < 0) {
    throw Error(ExitCode::kSystem, fmt::format("could not fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    const int rfd = report[1];
    if (spec.detach) {
      const pid_t grandchild = fork();
      if (grandchild < 0) child_fail(rfd, 8);
      if (grandchild > 0) {
        const int announce[2] = {kPidRecord, grandchild};
        ssize_t ignored = write(rfd, announce, sizeof announce);
        (void)ignored;
        _exit(0);
      }
    }
    // Restore default signal handling; the parent may ignore or block signals.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2}) {
      signal(sig, SIG_DFL);
    }
    if (spec.new_session && setsid() < 0) child_fail(rfd, 1);
    // Move the wanted descriptors out of the way of 0..N first, then into place.
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) child_fail(rfd, 2);
    auto place = [&](int from, int to) {
      int src = from < 0 ? devnull : from;
      if (src == to) {
        int flags = fcntl(src, F_GETFD);
        if (flags < 0 || fcntl(src, F_SETFD, flags & ~FD_CLOEXEC) < 0) child_fail(rfd, 3);
      } else if (dup2(src, to) < 0) {
        child_fail(rfd, 3);
      }
    };
    // dup everything high first so that placing one cannot clobber another's source.
    int stdio_src[3] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
    for (int& s : stdio_src) {
      if (s >= 0) {
        s = fcntl(s, F_DUPFD_CLOEXEC, 100);
        if (s < 0) child_fail(rfd, 3);
      }
    }
    int extra_src[16];
    const size_t n_extra = spec.fds.size() < 16 ? spec.fds.size() : 16;
    for (size_t i = 0; i < n_extra; ++i) {
      extra_src[i] = fcntl(spec.fds[i].first, F_DUPFD_CLOEXEC, 100);
      if (extra_src[i] < 0) child_fail(rfd, 3);
    }
    for (int i = 0; i < 3; ++i) place(stdio_src[i], i);
    int highest = 2;
    for (size_t i = 0; i < n_extra; ++i) {
      place(extra_src[i], spec.fds[i].second);
      if (spec.fds[i].second > highest) highest = spec.fds[i].second;
    }
    // Nothing else leaks into the child (an inherited pipe end would delay someone's EOF).
    close_range(static_cast<unsigned>(highest) + 1, ~0U, CLOSE_RANGE_CLOEXEC);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) child_fail(rfd, 4);
    if (spec.as) {
      if (setgroups(0, nullptr) != 0 || setgid(spec.as->gid) != 0 || setuid(spec.as->uid) != 0) {
        child_fail(rfd, 5);
      }
    }
    if (spec.parent_death_signal != 0) {
      if (prctl(PR_SET_PDEATHSIG, spec.parent_death_signal) != 0) child_fail(rfd, 6);
    }
    if (spec.nice != 0 && setpriority(PRIO_PROCESS, 0, spec.nice) != 0) {
      // Only a courtesy to others.
    }
    execve(argv[0], argv.data(), envp.data());
    child_fail(rfd, 7);
  }

  report_write.reset();
  if (spec.detach) wait_for(pid);  // the intermediate exits at once
  pid_t started = pid;
  int e[2];
  for (;;) {
    ssize_t n;
    do {
      n = read(report_read.get(), e, sizeof e);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof e)) break;  // EOF: exec succeeded
    if (e[0] == kPidRecord) {
      started = e[1];
      continue;
    }
    if (!spec.detach) waitpid(pid, nullptr, 0);
    static const char* steps[] = {
        "",      "setsid",      "open /dev/null",          "set up descriptors",
        "chdir", "switch user", "set parent-death signal", "exec",
        "fork"};
    const char* step = (e[0] >= 0 && e[0] < 9) ? steps[e[0]] : "start";
    throw Error(ExitCode::kSystem, fmt::format("could not run {} ({} failed: {})", spec.argv[0],
                                               step, std::strerror(e[1])));
  }
  return started;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int wait_for(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 255;
  }
  return decode_status(status);
}

std::optional<int> try_wait(pid_t pid) {
  int status;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return decode_status(status);
  if (r < 0 && errno == ECHILD) return 255;
  return std::nullopt;
}

RunResult run(const std::vector<std::string>& argv, const std::optional<Credentials>& as,
              const std::filesystem::path& cwd,
              const std::vector<std::pair<std::string, std::string>>& env, int parent_death_signal,
              const std::vector<std::pair<int, int>>& fds) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    throw Error(ExitCode::kSystem,
                fmt::format("could not create a pipe: {}", std::strerror(errno)));
  }
  Fd r(p[0]), w(p[1]);
  SpawnSpec spec;
  spec.argv = argv;
  spec.stdout_fd = w.get();
  spec.stderr_fd = w.get();
  spec.as = as;
  spec.cwd = cwd;
  spec.env = env;
  spec.parent_death_signal = parent_death_signal;
  spec.fds = fds;
  const pid_t pid = spawn(spec);
  w.reset();
  RunResult result;
  result.output = read_all(r.get());
  result.status = wait_for(pid);
  return result;
}

std::filesystem::path find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::filesystem::path candidate =
        std::filesystem::path(p.substr(start, end - start).empty() ? "."
                                                                   : p.substr(start, end - start)) /
        name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

std::filesystem::path self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : p;
}

}  // namespace pg_unit_tests::platform
