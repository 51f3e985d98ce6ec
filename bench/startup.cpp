// How fast the harness hands out a server, against plain initdb + pg_ctl measured in the same run.
//
//   build/bin/bench_startup [--runs N] [--servers M]
//
// Every figure is a median over N runs, each from nothing to a server that answered SELECT 1 (and,
// for the cycles, until it is stopped and its files are removed). Baselines are measured on the
// same file system as the harness's files (the default: /dev/shm), so the ratios compare like with
// like.
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/server.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using pg_unit_tests::Server;

namespace {

// The bench uses the library's public API only; the few process and file helpers it needs for
// the baseline are here.
struct RunResult {
  int status = 0;
  std::string output;
};

// Who the baseline's servers run as: this user, or under root the harness's server user.
struct User {
  bool switch_to = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::string read_fd(int fd) {
  std::string out;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// /proc files are read with plain read(2): a process may exit meanwhile, and iostreams throw then.
std::string read_file(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out = read_fd(fd);
  close(fd);
  return out;
}

RunResult run(const std::vector<std::string>& argv, const User& as = {}) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();  // the bench is single-threaded
  if (pid == 0) {
    dup2(p[1], 1);
    dup2(p[1], 2);
    if (as.switch_to &&
        (setgroups(0, nullptr) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0)) {
      _exit(126);
    }
    if (chdir("/") != 0) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(p[1]);
  RunResult r;
  r.output = read_fd(p[0]);
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

User server_user() {
  User u;
  if (geteuid() != 0) return u;
  const passwd* pw = getpwnam("pg_unit_tests");  // created by the harness's first start
  if (!pw) throw std::runtime_error("the server user pg_unit_tests does not exist");
  return User{true, pw->pw_uid, pw->pw_gid};
}

std::string g_cli;
fs::path g_scratch;  // the baseline's scratch directory, removed even if the bench fails

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

std::string run_out(const std::vector<std::string>& argv) {
  auto r = run(argv);
  if (r.status != 0) throw std::runtime_error(fmt::format("{} failed: {}", argv[0], r.output));
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void query(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("connect: " + e);
  }
  PGresult* r = PQexec(c, "SELECT 1");
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("SELECT 1 failed");
}

// Sum of the proportional set size (shared pages divided among sharers) of a process tree.
// Reads /proc with read_file: processes may exit meanwhile, and iostreams throw on such reads.
long pss_kib(pid_t root) {
  std::vector<pid_t> pids = {root};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || !isdigit(static_cast<unsigned char>(n[0]))) continue;
    const std::string s = read_file(e.path() / "stat");
    const size_t p = s.rfind(')');
    if (p == std::string::npos || p + 2 >= s.size()) continue;
    int ppid = 0;
    char state;
    if (sscanf(s.c_str() + p + 2, "%c %d", &state, &ppid) == 2 && ppid == root) {
      pids.push_back(std::stoi(n));
    }
  }
  long total = 0;
  for (pid_t pid : pids) {
    const std::string text = read_file(fmt::format("/proc/{}/smaps_rollup", pid));
    const size_t at = text.find("\nPss:");
    if (at != std::string::npos) total += std::atol(text.c_str() + at + 5);
  }
  return total;
}

struct Baseline {
  pg_unit_tests::Installation inst;
  User user;
  fs::path dir;
};

// initdb + pg_ctl start -w + SELECT 1 + pg_ctl stop -w + rm -r: what people do without a harness.
double baseline_cycle(const Baseline& b, bool include_stop, double* initdb_ms = nullptr) {
  const fs::path data = b.dir / "data";
  const fs::path sock = b.dir;
  auto t0 = Clock::now();
  auto r = run({b.inst.bin("initdb").string(), "-D", data.string(), "-U", "postgres", "-A", "trust",
                "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"},
               b.user);
  if (r.status != 0) throw std::runtime_error("initdb: " + r.output);
  if (initdb_ms) *initdb_ms = ms_since(t0);
  r = run({b.inst.bin("pg_ctl").string(), "-D", data.string(), "-w", "-l", (b.dir / "log").string(),
           "-o",
           fmt::format("-c listen_addresses='' -c unix_socket_directories={} -c fsync=off",
                       sock.string()),
           "start"},
          b.user);
  if (r.status != 0) throw std::runtime_error("pg_ctl start: " + r.output);
  query(fmt::format("host={} port=5432 user=postgres dbname=postgres", sock.string()));
  const double ready = ms_since(t0);
  r = run({b.inst.bin("pg_ctl").string(), "-D", data.string(), "-w", "-m", "fast", "stop"}, b.user);
  fs::remove_all(data);
  fs::remove(b.dir / "log");
  return include_stop ? ms_since(t0) : ready;
}

struct Row {
  std::string what;
  double ms;
  std::string note;
};

}  // namespace

int run_bench(int argc, char** argv) {
  CLI::App app{"bench_startup: time to a ready ephemeral server, against initdb + pg_ctl"};
  int runs = 15;
  int servers = 20;
  app.add_option("--runs", runs, "runs per figure (median)");
  app.add_option("--servers", servers, "servers to run at once for the memory figure");
  CLI11_PARSE(app, argc, argv);

  g_cli = (fs::read_symlink("/proc/self/exe").parent_path() / "pg_unit_tests").string();
  run_out({g_cli, "cache", "warm"});  // under root, this also prepares the server user

  Baseline b{pg_unit_tests::Installation::find(), server_user(), {}};
  {
    const char* shm = "/dev/shm";
    const fs::path parent = (access(shm, W_OK) == 0) ? shm : fs::temp_directory_path();
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%s/pgut-bench-XXXXXX", parent.c_str());
    b.dir = mkdtemp(tmpl);
    g_scratch = b.dir;
    if (b.user.switch_to && chown(b.dir.c_str(), b.user.uid, b.user.gid) != 0) {
      throw std::runtime_error("chown of the scratch directory failed");
    }
  }
  fmt::print("PostgreSQL {} ({}), {} runs per figure, files under {}\n\n", b.inst.version,
             b.inst.bindir.string(), runs, b.dir.parent_path().string());

  std::vector<double> base_ready, base_cycle, initdb;
  for (int i = 0; i < runs; ++i) {
    double init = 0;
    base_ready.push_back(baseline_cycle(b, false, &init));
    initdb.push_back(init);
    base_cycle.push_back(baseline_cycle(b, true));
  }
  const double baseline = median(base_ready);

  // Cold: empty cache, so start runs initdb itself.
  std::vector<double> cold;
  for (int i = 0; i < std::max(3, runs / 3); ++i) {
    run_out({g_cli, "cache", "clear"});
    auto t0 = Clock::now();
    const std::string uri = run_out({g_cli, "start", "-w", "0"});
    query(uri);
    cold.push_back(ms_since(t0));
    run_out({g_cli, "stop", uri});
  }
  run_out({g_cli, "cache", "warm"});

  std::vector<double> warm, warm_uri, cycle, exec_true, api_cycle, stop_ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    const std::string uri = run_out({g_cli, "start", "-w", "0"});
    warm_uri.push_back(ms_since(t0));
    query(uri);
    warm.push_back(ms_since(t0));
    auto t1 = Clock::now();
    run_out({g_cli, "stop", uri});
    stop_ms.push_back(ms_since(t1));
    usleep(100000);  // let the keeper's spare copy finish, as between two tests

    t0 = Clock::now();
    const std::string uri2 = run_out({g_cli, "start", "-w", "0"});
    query(uri2);
    run_out({g_cli, "stop", uri2});
    cycle.push_back(ms_since(t0));
    usleep(100000);

    t0 = Clock::now();
    run_out({g_cli, "exec", "--", "/bin/true"});
    exec_true.push_back(ms_since(t0));
    usleep(100000);

    t0 = Clock::now();
    {
      Server s = Server::start();
      query(s.uri());
    }
    api_cycle.push_back(ms_since(t0));
    usleep(100000);
  }

  // Pre-started spare servers: a start claims one; the pool refills itself in the background.
  std::vector<double> spare_uri, spare_query;
  run_out({g_cli, "cache", "warm", "--servers", "1"});
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    const std::string uri = run_out({g_cli, "start", "-w", "0"});
    spare_uri.push_back(ms_since(t0));
    query(uri);
    spare_query.push_back(ms_since(t0));
    run_out({g_cli, "stop", uri});
    usleep(300000);  // the replacement spare starts meanwhile
  }
  run_out({g_cli, "cache", "clear"});
  run_out({g_cli, "cache", "warm"});

  // Memory: one idle server, then many at once.
  long one_pss = 0;
  {
    Server s = Server::start();
    query(s.uri());
    usleep(200000);
    one_pss = pss_kib(s.info().pid);
  }
  // Owned servers: even if this program dies, their keepers remove them.
  std::vector<Server> many;
  auto t0 = Clock::now();
  for (int i = 0; i < servers; ++i) many.push_back(Server::start());
  const double many_ms = ms_since(t0);
  long many_pss = 0;
  int answered = 0;
  for (const auto& s : many) {
    query(s.uri());
    ++answered;
    many_pss += pss_kib(s.info().pid);
  }
  many.clear();
  fs::remove_all(b.dir);

  const double base_c = median(base_cycle);
  std::vector<Row> rows = {
      {"baseline: initdb + pg_ctl start -w, SELECT 1", baseline, "the reference (1.00x)"},
      {"baseline: ... + pg_ctl stop -w + rm", base_c, ""},
      {"baseline: initdb alone", median(initdb), ""},
      {"cold start (empty cache: initdb inside), SELECT 1", median(cold), "target: <= baseline"},
      {"warm start, URI printed", median(warm_uri), ""},
      {"warm start, SELECT 1", median(warm), "target: <= 50 ms"},
      {"start from a pre-started spare server, URI printed", median(spare_uri), ""},
      {"start from a pre-started spare server, SELECT 1", median(spare_query), "target: <= 15 ms"},
      {"stop (server gone, files removed)", median(stop_ms), ""},
      {"cycle: start, SELECT 1, stop, removed (CLI)", median(cycle), "target: <= 100 ms"},
      {"cycle with the C++ API (no CLI processes)", median(api_cycle), ""},
      {"exec -- true", median(exec_true), "target: <= cycle + 20 ms"},
  };
  fmt::print("{:<55} {:>9} {:>9}  {}\n", "median of " + std::to_string(runs) + " runs", "ms",
             "vs base", "");
  for (const auto& r : rows) {
    fmt::print("{:<55} {:>9.1f} {:>8.2f}x  {}\n", r.what, r.ms, r.ms / baseline, r.note);
  }
  fmt::print(
      "\nspeed-ups against the baseline: warm start {:.1f}x faster, cycle {:.1f}x faster than "
      "its baseline cycle, cold {:.2f}x the baseline\n",
      baseline / median(warm), base_c / median(cycle), median(cold) / baseline);
  fmt::print("memory: one idle server {:.1f} MiB (PSS of postmaster and its processes)\n",
             one_pss / 1024.0);
  fmt::print("{} servers at once: all {} answered; started in {:.0f} ms; together {:.1f} MiB PSS\n",
             servers, answered, many_ms, many_pss / 1024.0);
  return 0;
}

// A failing measurement must not leave the baseline's scratch directory behind (the servers are
// owned or stopped, so only that directory needs care).
int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_startup: %s\n", e.what());
    std::error_code ec;
    if (!g_scratch.empty()) fs::remove_all(g_scratch, ec);
    return 1;
  }
}
