// What one call of the CLI costs before it does its work, and the warm start and createdb it is
// part of, against a baseline CLI (one built from main) measured in the same run.
//
//   build/bin/bench_cli_startup [--baseline OLD_CLI] [--runs N] [--version-runs M]
//   bench/cli_startup.sh [REF]   builds REF's CLI (default main) in a scratch directory, runs this
//
// The machine this runs on is shared and loaded, so each figure is taken three ways:
// - instructions (callgrind, when valgrind is installed): what the process executes, loader and
//   static initialisers included; the same on a busy and an idle machine;
// - CPU time (user + system, from wait4): time spent on a CPU, not time spent waiting for one;
// - wall time, medians over many runs with the two CLIs alternating (ABBA...), so that a busy
//   moment slows both; the minimum shows what an idle machine gives.
// Servers run without the preloaded extension (--stock): the baseline is built outside this tree
// and would serve a different one; the CLI's own cost does not depend on it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Sample {
  int status = -1;
  double wall_ms = 0, cpu_ms = 0;
  std::string out;  // stdout, without the final newline
  std::string err;
};

fs::path g_scratch;  // stderr files and the private harness directories, removed at the end

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv (argv[0] a path, or a name looked up on PATH) with env added to ours; stdout through
// a pipe, stderr into a file, so that the child never waits for us.
Sample run(const std::vector<std::string>& argv,
           const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string s = *e;
    bool overridden = false;
    for (const auto& [k, v] : env) overridden |= s.compare(0, k.size() + 1, k + "=") == 0;
    if (!overridden) env_strings.push_back(s);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  const fs::path err_file = g_scratch / "stderr";
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  Sample s;
  pid_t pid = -1;
  const auto t0 = Clock::now();
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) != 0;) {
    if (n > 0) s.out.append(buf, static_cast<size_t>(n));
    if (n < 0 && errno != EINTR) break;
  }
  close(out[0]);
  int status = 0;
  struct rusage ru {};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  s.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; };
  s.cpu_ms = ms(ru.ru_utime) + ms(ru.ru_stime);
  s.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  while (!s.out.empty() && s.out.back() == '\n') s.out.pop_back();
  s.err = read_text(err_file);
  return s;
}

Sample run_ok(const std::vector<std::string>& argv,
              const std::vector<std::pair<std::string, std::string>>& env = {}) {
  Sample s = run(argv, env);
  if (s.status != 0) {
    throw std::runtime_error(fmt::format("{} {} failed ({}): {}", argv[0],
                                         argv.size() > 1 ? argv[1] : "", s.status, s.err));
  }
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double minimum(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

std::string load_average() {
  return read_text("/proc/loadavg").substr(0, 14);
}

// One CLI under test, with its own harness directory (each finds its own keeper next to it).
struct Cli {
  std::string name;
  std::string path;
  fs::path dir;
  std::vector<std::pair<std::string, std::string>> env() const {
    return {{"PG_UNIT_TESTS_DIR", dir.string()}};
  }
  Sample operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), path);
    return run_ok(args, env());
  }
};

// Instructions executed by `cli args` under callgrind (loader included), and what it printed;
// nullopt without valgrind.
std::optional<std::pair<double, std::string>> instructions(const Cli& cli,
                                                           const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                                   cli.path};
  argv.insert(argv.end(), args.begin(), args.end());
  Sample s;
  try {
    s = run(argv, cli.env());
  } catch (const std::exception&) {
    return std::nullopt;  // no valgrind
  }
  const auto at = s.err.find("Collected : ");
  if (s.status != 0 || at == std::string::npos) return std::nullopt;
  return std::pair{std::stod(s.err.substr(at + 12)), s.out};
}

std::vector<Cli> g_clis;

struct Figures {
  std::vector<double> version_wall, version_cpu, start_wall, createdb_wall, createdb_cpu,
      dropdb_wall;
  std::optional<double> version_instr, createdb_instr;
};

struct Row {
  std::string what;
  double (*pick)(const Figures&);
  int decimals;
};

}  // namespace

int run_bench(int argc, char** argv) {
  CLI::App app{"bench_cli_startup: the CLI's own start cost against a baseline CLI"};
  std::string baseline;
  int runs = 30;
  int version_runs = 300;
  app.add_option("--baseline", baseline, "the CLI to compare with (e.g. built from main)");
  app.add_option("--runs", runs, "runs per figure of start and createdb (median)");
  app.add_option("--version-runs", version_runs, "runs of --version (median)");
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/dev/shm/pgut-bench-cli-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  g_scratch = tmpl;
  chmod(g_scratch.c_str(), 0755);  // the unprivileged server user must reach its directories

  std::vector<Cli>& clis = g_clis;
  if (!baseline.empty()) clis.push_back({"baseline", fs::absolute(baseline).string(), {}});
  clis.push_back({"this build",
                  (fs::read_symlink("/proc/self/exe").parent_path() / "pg_unit_tests").string(),
                  {}});
  for (auto& c : clis) {
    c.dir = g_scratch / (c.name == "baseline" ? "base" : "new");
    fs::create_directory(c.dir);
    chmod(c.dir.c_str(), 0755);
  }
  std::vector<Figures> fig(clis.size());
  const std::string load_before = load_average();
  fmt::print("CLIs: {}\nload average at start: {}\n",
             fmt::join(
                 [&] {
                   std::vector<std::string> v;
                   for (const auto& c : clis) v.push_back(c.name + " = " + c.path);
                   return v;
                 }(),
                 ", "),
             load_before);
  std::fflush(stdout);

  // Alternating order: ABBAABBA... so that neither CLI always runs first.
  auto each = [&](int i, auto&& f) {
    for (size_t k = 0; k < clis.size(); ++k) {
      const size_t j = (i % 2) ? clis.size() - 1 - k : k;
      f(clis[j], fig[j]);
    }
  };

  // 1. The bare start: `--version`.
  for (int i = 0; i < 10; ++i) each(i, [](const Cli& c, Figures&) { c({"--version"}); });
  for (int i = 0; i < version_runs; ++i) {
    each(i, [](const Cli& c, Figures& f) {
      const Sample s = c({"--version"});
      f.version_wall.push_back(s.wall_ms);
      f.version_cpu.push_back(s.cpu_ms);
    });
  }
  each(0, [](const Cli& c, Figures& f) {
    if (auto r = instructions(c, {"--version"})) f.version_instr = r->first;
  });

  // 2. Warm start to the printed URI, each CLI with its own template cache.
  for (const auto& c : clis) c({"cache", "warm", "--stock"});
  for (int i = 0; i < runs; ++i) {
    each(i, [](const Cli& c, Figures& f) {
      const Sample s = c({"start", "--stock", "-w", "0"});
      f.start_wall.push_back(s.wall_ms);
      c({"stop", s.out});
      usleep(100000);  // the keeper's spare copy, as between two tests
    });
  }

  // 3. createdb and dropdb against one server (started by this build).
  const Cli& server_cli = clis.back();
  const std::string uri = server_cli({"start", "--stock", "-w", "0"}).out;
  for (int i = 0; i < 3; ++i) {
    each(i, [&](const Cli& c, Figures&) {
      c({"dropdb", c({"createdb", "--uri", uri, "--template", "template1"}).out});
    });
  }
  for (int i = 0; i < runs; ++i) {
    each(i, [&](const Cli& c, Figures& f) {
      const Sample s = c({"createdb", "--uri", uri, "--template", "template1"});
      f.createdb_wall.push_back(s.wall_ms);
      f.createdb_cpu.push_back(s.cpu_ms);
      f.dropdb_wall.push_back(c({"dropdb", s.out}).wall_ms);
    });
  }
  each(0, [&](const Cli& c, Figures& f) {
    if (auto r = instructions(c, {"createdb", "--uri", uri, "--template", "template1"})) {
      f.createdb_instr = r->first;
      c({"dropdb", r->second});
    }
  });
  server_cli({"stop", uri});
  for (const auto& c : clis) c({"cache", "clear"});

  const std::vector<Row> rows = {
      {"--version: instructions (callgrind), millions",
       [](const Figures& f) { return f.version_instr.value_or(0) / 1e6; }, 2},
      {"--version: CPU time (user+sys), median ms",
       [](const Figures& f) { return median(f.version_cpu); }, 2},
      {"--version: wall, median ms", [](const Figures& f) { return median(f.version_wall); }, 2},
      {"--version: wall, minimum ms", [](const Figures& f) { return minimum(f.version_wall); }, 2},
      {"warm start --stock, URI printed: wall, median ms",
       [](const Figures& f) { return median(f.start_wall); }, 1},
      {"warm start --stock, URI printed: wall, minimum ms",
       [](const Figures& f) { return minimum(f.start_wall); }, 1},
      {"createdb --template template1: instructions, millions",
       [](const Figures& f) { return f.createdb_instr.value_or(0) / 1e6; }, 2},
      {"createdb --template template1: CPU time, median ms",
       [](const Figures& f) { return median(f.createdb_cpu); }, 2},
      {"createdb --template template1: wall, median ms",
       [](const Figures& f) { return median(f.createdb_wall); }, 1},
      {"createdb --template template1: wall, minimum ms",
       [](const Figures& f) { return minimum(f.createdb_wall); }, 1},
      {"dropdb: wall, median ms", [](const Figures& f) { return median(f.dropdb_wall); }, 1},
  };
  fmt::print(
      "\n{} runs of --version, {} of start and createdb per CLI; load average at the end: {}\n\n",
      version_runs, runs, load_average());
  std::string header = fmt::format("{:<55}", "");
  for (const auto& c : clis) header += fmt::format(" {:>11}", c.name);
  if (clis.size() == 2) header += fmt::format(" {:>9}", "ratio");
  fmt::print("{}\n", header);
  for (const auto& r : rows) {
    std::string line = fmt::format("{:<55}", r.what);
    for (const auto& f : fig) line += fmt::format(" {:>11.{}f}", r.pick(f), r.decimals);
    if (clis.size() == 2) {
      const double a = r.pick(fig[0]), b = r.pick(fig[1]);
      line += a > 0 ? fmt::format(" {:>8.2f}x", b / a) : fmt::format(" {:>9}", "-");
    }
    fmt::print("{}\n", line);
  }
  if (clis.size() == 2)
    fmt::print("\nratio: this build / baseline (below 1: this build is cheaper)\n");
  fs::remove_all(g_scratch);
  return 0;
}

// A failing measurement must leave no server and no directory behind.
int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cli_startup: %s\n", e.what());
    if (!g_scratch.empty()) {
      for (const auto& c : g_clis) {
        try {
          if (!c.dir.empty()) run({c.path, "stop", "--all"}, c.env());
        } catch (const std::exception&) {
          // Removing the directory below is all that is left to do.
        }
      }
      std::error_code ec;
      fs::remove_all(g_scratch, ec);
    }
    return 1;
  }
}
