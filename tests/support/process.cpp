#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef PGUT_CLI
#define PGUT_CLI "pg_unit_tests"
#endif

extern char** environ;

namespace test_support {

namespace {

pid_t fork_exec(const std::vector<std::string>& argv,
                const std::vector<std::pair<std::string, std::string>>& env, int out, int err) {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string s = *e;
    // $PG_CONFIGS is make test's version matrix, for the tests that look for installations; the
    // CLI reads it too (regress runs every one), so a child gets it only when the test gives it.
    bool replaced = s.rfind("PG_CONFIGS=", 0) == 0;
    for (const auto& [k, v] : env) replaced |= s.rfind(k + "=", 0) == 0;
    if (!replaced) envs.push_back(s);
  }
  for (const auto& [k, v] : env) {
    if (!v.empty()) envs.push_back(k + "=" + v);
  }
  std::vector<char*> a, e;
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) a.push_back(s.data());
  a.push_back(nullptr);
  for (auto& s : envs) e.push_back(s.data());
  e.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    if (out >= 0) dup2(out, 1);
    if (err >= 0) dup2(err, 2);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

int wait_exit(pid_t pid) {
  int status;
  if (waitpid(pid, &status, 0) < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

Output run(const std::vector<std::string>& argv,
           const std::vector<std::pair<std::string, std::string>>& env) {
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) != 0 || pipe2(e, O_CLOEXEC) != 0) return {};
  pid_t pid = fork_exec(argv, env, o[1], e[1]);
  close(o[1]);
  close(e[1]);
  Output result;
  // Read both pipes without deadlock.
  pollfd fds[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
  int open_count = 2;
  char buf[4096];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && fds[i].revents) {
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_count;
        }
      }
    }
  }
  result.status = wait_exit(pid);
  return result;
}

Background spawn(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env) {
  int o[2];
  if (pipe2(o, O_CLOEXEC) != 0) return {};
  Background b;
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  b.pid = fork_exec(argv, env, o[1], devnull);
  close(devnull);
  close(o[1]);
  b.out_fd = o[0];
  return b;
}

std::string read_line(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

std::string cli() {
  // PGUT_TEST_CLI runs the end-to-end tests against another build (an older one, to see a test
  // fail before its fix).
  if (const char* other = std::getenv("PGUT_TEST_CLI"); other && *other) return other;
  return PGUT_CLI;
}

std::optional<LocalUser> hostile_user() {
  if (geteuid() != 0) return std::nullopt;
  constexpr const char* kName = "pgut_attacker";
  const int lock = open("/run/lock/pgut-test-useradd.lock", O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (lock >= 0) flock(lock, LOCK_EX);
  passwd* pw = getpwnam(kName);
  if (!pw) {
    run({"/usr/sbin/useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
         "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment",
         "pg_unit_tests tests, a hostile local user", kName});
    pw = getpwnam(kName);
  }
  if (lock >= 0) close(lock);
  if (!pw) return std::nullopt;
  return LocalUser{pw->pw_uid, pw->pw_gid};
}

int as_user(const LocalUser& user, const std::function<int()>& action) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0) _exit(126);
    _exit(action());
  }
  return wait_exit(pid);
}

std::vector<std::string> stat_fields(pid_t pid) {
  std::string content;
  try {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return {};
    content.assign(std::istreambuf_iterator<char>(stat), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return {};  // it exited while we read
  }
  // The command name (field 2) is in parentheses and may hold blanks and ')': up to the last one.
  const size_t open_paren = content.find('('), close_paren = content.rfind(')');
  if (open_paren == std::string::npos || close_paren == std::string::npos ||
      close_paren < open_paren) {
    return {};
  }
  std::string pid_field;
  std::istringstream(content.substr(0, open_paren)) >> pid_field;
  std::vector<std::string> out = {"", pid_field,
                                  content.substr(open_paren + 1, close_paren - open_paren - 1)};
  std::istringstream rest(content.substr(close_paren + 1));
  for (std::string field; rest >> field;) out.push_back(field);
  return out;
}

bool alive(pid_t pid) {
  const auto fields = stat_fields(pid);
  return fields.size() > 3 && fields[3] != "Z" && fields[3] != "X";
}

uid_t process_uid(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) return static_cast<uid_t>(std::stoul(line.substr(4)));
  }
  return static_cast<uid_t>(-1);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

bool remove_tree_eventually(const std::filesystem::path& path) {
  return eventually([&] {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    return !std::filesystem::exists(path, ec);
  });
}

std::string command_line(pid_t pid) {
  std::string cmd;
  try {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    cmd.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return {};
  }
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  return cmd;
}

std::vector<pid_t> processes_matching(const std::string& needle) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    // The process may exit while we read; iostreams report that by throwing.
    // The environment too: initdb's backends get their data directory as PGDATA, not as an
    // argument.
    std::string cmd;
    try {
      for (const char* file : {"cmdline", "environ"}) {
        std::ifstream f(e.path() / file);
        cmd.append(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        cmd.push_back('\0');
      }
    } catch (const std::exception&) {
      continue;
    }
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    const pid_t pid = std::stoi(name);
    if (cmd.find(needle) != std::string::npos && alive(pid)) out.push_back(pid);
  }
  return out;
}

}  // namespace test_support
