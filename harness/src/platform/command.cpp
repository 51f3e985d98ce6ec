// run_command and connection_environment (pg_unit_tests/command.hpp).
#include "pg_unit_tests/command.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/process.hpp"
#include "pq/conninfo.hpp"

namespace pg_unit_tests {

namespace {

volatile sig_atomic_t g_child = 0;
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// Passes on signals sent with kill(2) (si_code <= 0). Signals from the terminal (Ctrl-C) already
// reach the command, which is in our process group; passing those on would double them.
void forward(int sig, siginfo_t* info, void*) {
  if (g_child > 0 && info && info->si_code <= 0) kill(g_child, sig);
}

bool executable_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

// PATH lookup as a shell does it, telling "not found" from "found, but not executable".
std::string find_command(const std::string& name) {
  std::string found_but_not_executable;
  auto consider = [&](const std::string& candidate) {
    if (executable_file(candidate)) return true;
    if (found_but_not_executable.empty() && access(candidate.c_str(), F_OK) == 0) {
      found_but_not_executable = candidate;
    }
    return false;
  };
  if (name.find('/') != std::string::npos) {
    if (consider(name)) return name;
  } else {
    const char* env = std::getenv("PATH");
    const std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
    for (size_t start = 0; start <= path.size();) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string candidate = end > start ? path.substr(start, end - start) : ".";
      candidate.append("/").append(name);
      if (consider(candidate)) return candidate;
      start = end + 1;
    }
  }
  if (!found_but_not_executable.empty()) {
    throw Error(ExitCode::kUsage,
                fmt::format("command '{}' is not executable ({}): check its mode (chmod +x)", name,
                            found_but_not_executable));
  }
  throw Error(ExitCode::kUsage, fmt::format("command '{}' not found{}", name,
                                            name.find('/') == std::string::npos ? " on PATH" : ""));
}

int run_command(const std::vector<std::string>& command, const Environment& environment) {
  if (command.empty()) throw Error(ExitCode::kUsage, "no command to run");
  platform::SpawnSpec spec;
  spec.argv = command;
  spec.argv[0] = find_command(command[0]);
  spec.stdin_fd = 0;
  spec.stdout_fd = 1;
  spec.stderr_fd = 2;
  spec.env = environment;
  spec.parent_death_signal = SIGKILL;

  struct sigaction sa {};
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction previous[std::size(kForwarded)];
  // Block the forwarded signals until the child's pid is known.
  sigset_t block, old;
  sigemptyset(&block);
  for (size_t i = 0; i < std::size(kForwarded); ++i) {
    sigaction(kForwarded[i], &sa, &previous[i]);
    sigaddset(&block, kForwarded[i]);
  }
  sigprocmask(SIG_BLOCK, &block, &old);
  auto restore = [&] {
    g_child = 0;
    for (size_t i = 0; i < std::size(kForwarded); ++i)
      sigaction(kForwarded[i], &previous[i], nullptr);
  };
  pid_t child;
  try {
    child = platform::spawn(spec);
  } catch (...) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    restore();
    throw;
  }
  g_child = child;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  const int status = platform::wait_for(child);
  restore();
  return status;
}

Environment connection_environment(const std::string& uri) {
  const pq::Options o = pq::parse_conninfo(uri);
  auto get = [&](const char* key) {
    auto it = o.find(key);
    return it == o.end() ? std::string() : it->second;
  };
  // PGHOSTADDR and PGSERVICE left in the caller's environment would win over PGHOST and PGPORT
  // (libpq takes a service's host and port first): unset, so that nothing points libpq elsewhere.
  return {{"PGHOST", get("host")},         {"PGPORT", get("port")},
          {"PGUSER", get("user")},         {"PGPASSWORD", get("password")},
          {"PGDATABASE", get("dbname")},   {"DATABASE_URL", uri},
          {"PGHOSTADDR", get("hostaddr")}, {"PGSERVICE", ""}};
}

}  // namespace pg_unit_tests
