// The pg_unit_tests command end to end: what users of pg_tmp or pg_virtualenv would run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/pq.hpp"
#include "support/errors.hpp"
#include "support/process.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using test_support::cli;
using test_support::Connection;
using test_support::run;
using test_support::ScratchDir;
using test_support::trim;

namespace {

fs::path server_dir_of(const std::string& uri) {
  auto j = nlohmann::json::parse(run({cli(), "list", "--json"}).out);
  for (const auto& s : j) {
    if (s.value("uri", "") == uri) return s.value("directory", "");
  }
  return {};
}

}  // namespace

TEST(Cli, StartPrintsAUriThatStopRemoves) {
  auto r = run({cli(), "start"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string uri = trim(r.out);
  EXPECT_EQ(uri.rfind("postgresql://", 0), 0u);
  EXPECT_TRUE(r.err.empty()) << r.err;
  Connection c(uri);
  ASSERT_TRUE(c.ok()) << c.error();
  const fs::path dir = server_dir_of(uri);
  ASSERT_FALSE(dir.empty());
  r = run({cli(), "stop", uri});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir));
}

TEST(Cli, StartOwnedByAProcessGoesWithIt) {
  auto owner = test_support::spawn({"/bin/sleep", "60"});
  auto r = run({cli(), "start", "--json", "--owner", std::to_string(owner.pid)});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const fs::path dir = j["directory"].get<std::string>();
  Connection c(j["uri"].get<std::string>());
  EXPECT_TRUE(c.ok()) << c.error();
  kill(owner.pid, SIGKILL);
  test_support::wait_exit(owner.pid);
  close(owner.out_fd);
  EXPECT_TRUE(test_support::eventually([&] { return !fs::exists(dir); }, std::chrono::seconds(30)));
  // An owner that is not running is said so.
  r = run({cli(), "start", "--owner", std::to_string(owner.pid)});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("is not running"), std::string::npos) << r.err;
}

TEST(Cli, StartJson) {
  auto r = run({cli(), "start", "--json", "--tcp"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"uri", "host", "port", "user", "password", "database", "data_directory",
                          "pid", "version"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["host"], "127.0.0.1");
  EXPECT_EQ(j["version"].get<std::string>().substr(0, 3), "15.");
  Connection c(j["uri"].get<std::string>());
  EXPECT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(run({cli(), "stop", j["uri"].get<std::string>()}).status, 0);
}

TEST(Cli, ExecSetsTheEnvironmentAndReturnsTheCommandsStatus) {
  auto r = run({cli(), "exec", "--", "/bin/sh", "-c",
                "psql -XAtc 'select 40+2' && echo \"$PGHOST|$PGPORT|$PGUSER|$PGDATABASE\" && "
                "psql -XAtc 'select 1' \"$DATABASE_URL\" && exit 3"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.out.find("42\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|5432|postgres|postgres"), std::string::npos) << r.out;
  // The server is gone afterwards.
  EXPECT_EQ(r.out.find("pg_unit_tests-"), r.out.find("pg_unit_tests-"));
  const std::string host =
      r.out.substr(r.out.find('\n') + 1, r.out.find('|') - r.out.find('\n') - 1);
  EXPECT_FALSE(fs::exists(host)) << host;
}

TEST(Cli, ExecServerReachesItselfThroughItsOwnLibpqEnvironment) {
  auto r = run({cli(), "exec", "--", "psql", "-XAtq", "-c", "CREATE EXTENSION dblink", "-c",
                "SELECT x FROM dblink('dbname=postgres', 'SELECT 40 + 2') AS t(x int)"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(trim(r.out), "42") << r.err;
}

TEST(Cli, ExecIsNotSentElsewhereByTheCallersLibpqEnvironment) {
  // A service left in the caller's shell (libpq takes a service's host and port over PGHOST and
  // PGPORT) and a PGHOSTADDR (taken over PGHOST) must not point the command at another server.
  ScratchDir dir;
  const fs::path services = dir.path / "pg_service.conf";
  std::ofstream(services) << "[elsewhere]\nhost=/nonexistent-pgut\nport=1\n";
  auto r = run({cli(), "exec", "--", "/bin/sh", "-c",
                "test \"$(psql -XAtc 'show unix_socket_directories')\" = \"$PGHOST\""},
               {{"PGSERVICEFILE", services.string()},
                {"PGSERVICE", "elsewhere"},
                {"PGHOSTADDR", "127.0.0.1"}});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(Cli, ExecTcpHasPassword) {
  auto r =
      run({cli(), "exec", "-t", "--", "/bin/sh", "-c",
           "test -n \"$PGPASSWORD\" && test \"$PGHOST\" = 127.0.0.1 && psql -XAtc 'select 1'"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(Cli, ExecForwardsSigtermAndCleansUp) {
  auto bg = test_support::spawn({cli(), "exec", "--", "/bin/sh", "-c",
                                 "trap 'exit 7' TERM; echo $PGHOST; while :; do sleep 0.05; done"});
  const std::string host = test_support::read_line(bg.out_fd);
  ASSERT_TRUE(fs::exists(host)) << host;
  kill(bg.pid, SIGTERM);
  EXPECT_EQ(test_support::wait_exit(bg.pid), 7);  // the command's own answer to SIGTERM
  EXPECT_FALSE(fs::exists(host));
  close(bg.out_fd);
}

TEST(Cli, ExecInterruptedLikeCtrlC) {
  // Ctrl-C sends SIGINT to the whole foreground process group.
  auto bg = test_support::spawn(
      {"/usr/bin/setsid", "-w", cli(), "exec", "--", "/bin/sh", "-c", "echo $PGHOST; sleep 30"});
  const std::string host = test_support::read_line(bg.out_fd);
  ASSERT_TRUE(fs::exists(host)) << host;
  // setsid made its process (bg.pid, then pg_unit_tests) the leader of a new process group.
  kill(-bg.pid, SIGINT);
  EXPECT_EQ(test_support::wait_exit(bg.pid), 130);
  EXPECT_FALSE(fs::exists(host));
  close(bg.out_fd);
}

TEST(Cli, InterruptDuringTheStartStopsExecAndRegress) {
  // Started with SIGINT ignored, as a shell's background job is; SIGTERM as kill(1) sends it.
  for (const int sig : {SIGINT, SIGTERM}) {
    for (const std::string command : {"exec", "regress"}) {
      ScratchDir dir;  // an empty cache: the start runs initdb, so the signal comes during it
      const std::vector<std::pair<std::string, std::string>> env = {
          {"PG_UNIT_TESTS_DIR", dir.path.string()}};
      std::vector<std::string> argv = {"/bin/sh", "-c", "trap '' INT; exec \"$@\"", "sh", cli()};
      if (command == "exec") {
        argv.insert(argv.end(), {"exec", "--", "/bin/sh", "-c", "echo RAN"});
      } else {
        argv.insert(argv.end(), {"regress", "--inputdir=" PGUT_FIXTURES "/regress/suite",
                                 "--outputdir=" + dir.path.string(), "plain"});
      }
      auto bg = test_support::spawn(argv, env);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      kill(bg.pid, sig);
      EXPECT_EQ(test_support::wait_exit(bg.pid), 128 + sig) << command << " signal " << sig;
      std::string out;
      for (std::string line; !(line = test_support::read_line(bg.out_fd)).empty();) out += line;
      close(bg.out_fd);
      EXPECT_EQ(out.find("RAN"), std::string::npos) << "the command ran after an interrupt";
      EXPECT_EQ(out.find("ok"), std::string::npos) << "the suite ran after an interrupt: " << out;
      EXPECT_TRUE(test_support::eventually([&] {
        return nlohmann::json::parse(run({cli(), "list", "--json"}, env).out).empty();
      }));
      // The initdb it started (and initdb's backend) may finish on their own: the directory is
      // removed after them (a backend whose files vanish aborts and leaves its shared memory).
      EXPECT_TRUE(test_support::eventually(
          [&] { return test_support::processes_matching(dir.path.string()).empty(); }));
    }
  }
}

namespace {

// POSIX shared memory segments (/dev/shm/PostgreSQL.*) of the harness's server user that no
// process maps: what a PostgreSQL process left when it died without cleaning up.
std::set<std::string> abandoned_segments() {
  uid_t uid = getuid();
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("pg_unit_tests");
    if (pw == nullptr) return {};
    uid = pw->pw_uid;
  }
  // The segments first, then who maps them: one made in between is not taken for abandoned.
  std::set<std::string> candidates;
  for (const auto& e : fs::directory_iterator("/dev/shm")) {
    struct stat st {};
    if (e.path().filename().string().rfind("PostgreSQL.", 0) == 0 &&
        stat(e.path().c_str(), &st) == 0 && st.st_uid == uid) {
      candidates.insert(e.path().string());
    }
  }
  for (const auto& p : fs::directory_iterator("/proc")) {
    std::ifstream maps(p.path() / "maps");
    for (std::string line; std::getline(maps, line);) {
      const auto at = line.find("/dev/shm/PostgreSQL.");
      if (at != std::string::npos) candidates.erase(line.substr(at));
    }
  }
  std::set<std::string> out;
  for (const auto& c : candidates) {
    if (fs::exists(c)) out.insert(c);  // (and not removed meanwhile by a server that ended)
  }
  return out;
}

// Whether the process waits for a lock on one of these files (by inode: a "->" line of
// /proc/locks names a waiter, then MAJOR:MINOR:INODE of the file).
bool waits_for_a_lock(pid_t pid, const std::set<ino_t>& files) {
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string id, arrow, type, mode, access, where;
    long holder = 0;
    if (fields >> id >> arrow >> type >> mode >> access >> holder >> where && arrow == "->" &&
        holder == pid && files.count(std::stoul(where.substr(where.rfind(':') + 1)))) {
      return true;
    }
  }
  return false;
}

// The first start interrupted while its initdb runs (a kill of the CLI alone: initdb is orphaned
// and goes on). The orphan is left stopped (SIGSTOP), so that what a test runs next certainly runs
// while it lives, not by luck of timing.
struct OrphanedInitdb {
  ScratchDir dir;  // an empty cache: the start runs initdb
  std::vector<std::pair<std::string, std::string>> env = {{"PG_UNIT_TESTS_DIR", dir.path.string()}};
  fs::path cache = dir.path / ("pg_unit_tests-" + std::to_string(geteuid())) / "cache";
  std::vector<pid_t> orphans;
  std::set<std::string> orphan_builds;

  OrphanedInitdb() {
    auto first = test_support::spawn({cli(), "start"}, env);
    // Until initdb's backend runs (PGDATA in its environment names the new template's directory;
    // other processes of the start name paths with "postgresql" in them).
    const bool initdb_runs = test_support::eventually([&] {
      for (const pid_t pid : test_support::processes_matching(dir.path.string())) {
        const std::string cmd = test_support::command_line(pid);
        if (cmd.find(" --boot") != std::string::npos ||
            cmd.find(" --single") != std::string::npos) {
          return true;
        }
      }
      return false;
    });
    // The start alone, as a kill by pid would (Ctrl-C in a terminal signals initdb too).
    kill(first.pid, SIGKILL);
    test_support::wait_exit(first.pid);
    close(first.out_fd);
    orphans = test_support::processes_matching(dir.path.string());
    watch();
    for (const pid_t pid : orphans) kill(pid, SIGSTOP);
    orphan_builds = builds();
    EXPECT_TRUE(initdb_runs) << "no initdb backend seen for the first start";
    // (initdb runs for seconds; it cannot have ended between the interrupt and here)
    EXPECT_FALSE(orphans.empty()) << "the interrupted start's initdb is gone already";
    EXPECT_EQ(orphan_builds.size(), 1u);
  }
  ~OrphanedInitdb() { resume(); }
  void resume() {
    for (const pid_t pid : orphans) kill(pid, SIGCONT);
    if (watchdog_pipe >= 0) {
      close(std::exchange(watchdog_pipe, -1));
      test_support::wait_exit(watchdog);
    }
  }
  // Should this test die while the orphans are stopped (a crash, ctest's timeout), a child of ours
  // resumes them when its pipe from us closes: stopped for good, they would hold the cache's locks.
  void watch() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    const std::vector<pid_t> stopped = orphans;  // (the child only makes system calls)
    watchdog = fork();
    if (watchdog == 0) {
      close(p[1]);
      char c;
      while (read(p[0], &c, 1) < 0 && errno == EINTR) {
      }
      for (const pid_t pid : stopped) kill(pid, SIGCONT);
      _exit(0);
    }
    close(p[0]);
    if (watchdog < 0) {
      close(p[1]);
      return;
    }
    watchdog_pipe = p[1];
  }
  pid_t watchdog = -1;
  int watchdog_pipe = -1;

  std::set<ino_t> lock_files() const {
    std::set<ino_t> out;
    for (const auto& e : fs::directory_iterator(cache)) {
      struct stat st {};
      if (e.path().extension() == ".lock" && stat(e.path().c_str(), &st) == 0) {
        out.insert(st.st_ino);
      }
    }
    return out;
  }

  std::set<std::string> builds() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(cache)) {
      if (e.path().filename().string().find(".building-") != std::string::npos) {
        out.insert(e.path().filename().string());
      }
    }
    return out;
  }
  bool orphan_build_intact() const {
    const auto now = builds();
    return std::includes(now.begin(), now.end(), orphan_builds.begin(), orphan_builds.end());
  }

  // Runs the command in the background while the orphan is stopped: true if it waits for a lock
  // of the cache (the orphan's), false if it finished or went past without waiting. Resumes the
  // orphan and returns the command's exit status in `status`.
  bool waits_for_it(const std::vector<std::string>& argv, int* status) {
    const std::set<ino_t> locks = lock_files();
    auto command = test_support::spawn(argv, env);
    const bool settled = test_support::eventually(
        [&] { return waits_for_a_lock(command.pid, locks) || !test_support::alive(command.pid); });
    const bool waits = settled && test_support::alive(command.pid);
    intact_while_waiting = orphan_build_intact();
    resume();
    *status = test_support::wait_exit(command.pid);
    close(command.out_fd);
    return waits;
  }
  bool intact_while_waiting = false;
};

}  // namespace

// A start right after an interrupted first one must wait for the orphaned initdb instead of
// removing its files from under its backend, which then aborts and leaves its shared memory in
// /dev/shm.
TEST(Cli, AStartAfterAnInterruptedFirstOneWaitsForItsOrphanedInitdb) {
  const auto before = abandoned_segments();
  OrphanedInitdb o;
  ASSERT_FALSE(o.orphans.empty());
  int status = -1;
  EXPECT_TRUE(o.waits_for_it({cli(), "start"}, &status))
      << "the second start did not wait for the orphaned initdb";
  EXPECT_TRUE(o.intact_while_waiting) << "the orphaned initdb's files were removed from under it";
  EXPECT_EQ(status, 0);
  EXPECT_EQ(run({cli(), "stop", "--all"}, o.env).status, 0);
  EXPECT_TRUE(test_support::eventually(
      [&] { return test_support::processes_matching(o.dir.path.string()).empty(); }));
  EXPECT_TRUE(o.builds().empty()) << *o.builds().begin();
  // Other tests' servers run meanwhile: a segment of theirs may be between two scans; a leaked one
  // stays.
  std::set<std::string> left;
  EXPECT_TRUE(test_support::eventually([&] {
    left.clear();
    for (const auto& s : abandoned_segments()) {
      if (!before.count(s)) left.insert(s);
    }
    return left.empty();
  })) << "left behind: "
      << *left.begin();
}

// `cache clear` waits for it too, and then removes what the killed build left.
TEST(Cli, CacheClearWaitsForAnOrphanedInitdbAndRemovesItsBuild) {
  OrphanedInitdb o;
  ASSERT_FALSE(o.orphans.empty());
  int status = -1;
  EXPECT_TRUE(o.waits_for_it({cli(), "cache", "clear"}, &status))
      << "cache clear did not wait for the orphaned initdb";
  EXPECT_TRUE(o.intact_while_waiting) << "the orphaned initdb's files were removed from under it";
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(test_support::eventually(
      [&] { return test_support::processes_matching(o.dir.path.string()).empty(); }));
  EXPECT_TRUE(o.builds().empty()) << *o.builds().begin();
}

TEST(Cli, KilledHarnessLeavesNothingBehind) {
  auto bg = test_support::spawn(
      {cli(), "exec", "--", "/bin/sh", "-c", "echo $PGHOST; echo $$; exec sleep 30"});
  const std::string host = test_support::read_line(bg.out_fd);
  const pid_t command = std::stoi(test_support::read_line(bg.out_fd));
  ASSERT_TRUE(fs::exists(host)) << host;
  kill(bg.pid, SIGKILL);
  test_support::wait_exit(bg.pid);
  // The keeper notices that its owner is gone and removes the server within moments.
  EXPECT_TRUE(
      test_support::eventually([&] { return !fs::exists(host); }, std::chrono::seconds(30)));
  // The keeper ends right after its last act, the removal of the directory.
  EXPECT_TRUE(test_support::eventually(
      [&] { return test_support::processes_matching(host).empty(); }, std::chrono::seconds(30)));
  // The command does not outlive it either.
  EXPECT_TRUE(test_support::eventually([&] { return !test_support::alive(command); },
                                       std::chrono::seconds(30)));
  kill(command, SIGKILL);
  close(bg.out_fd);
}

TEST(Cli, KilledKeeperTakesItsServerAlong) {
  auto r = run({cli(), "start", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const pid_t keeper = j["keeper_pid"], postmaster = j["pid"];
  kill(keeper, SIGKILL);
  // The postmaster gets SIGQUIT when its keeper dies, and the directory goes at once (not at
  // some later start).
  EXPECT_TRUE(test_support::eventually([&] { return !test_support::alive(postmaster); },
                                       std::chrono::seconds(30)));
  EXPECT_TRUE(test_support::eventually(
      [&] { return !fs::exists(j["directory"].get<std::string>()); }, std::chrono::seconds(30)));
  r = run({cli(), "start", "-w", "1"});
  EXPECT_EQ(r.status, 0) << r.err;
}

namespace {

// CPU time (user + system) a process used, in clock ticks.
long cpu_ticks(pid_t pid) {
  const auto fields = test_support::stat_fields(pid);
  return fields.size() > 15 ? std::stol(fields[14]) + std::stol(fields[15]) : 0;
}

}  // namespace

// A keeper that runs out of descriptors while clients queue to connect waits for one to leave: it
// does not spin on a listener it cannot accept from (it did, a core at 100 % until a client left).
// The check can only miss a spin on a machine too loaded to give the keeper half a core, never
// fail without one.
TEST(Cli, AKeeperOutOfDescriptorsWaitsInsteadOfSpinning) {
  auto r = run({cli(), "start", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const pid_t keeper = j["keeper_pid"];
  const fs::path socket = fs::path(j["directory"].get<std::string>()) / "keeper.sock";
  int open_fds = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator("/proc/" + std::to_string(keeper) + "/fd")) {
    ++open_fds;
  }
  // Its soft limit of descriptors: two more than it has open now, then as high as allowed. Set by
  // the keeper's own user: root in a container often lacks CAP_SYS_RESOURCE.
  const uid_t keeper_uid = test_support::process_uid(keeper);
  const passwd* pw = getpwuid(keeper_uid);
  ASSERT_NE(pw, nullptr);
  const test_support::LocalUser keeper_user{keeper_uid, pw->pw_gid};
  const auto set_limit = [&](rlim_t soft) {
    const auto set = [&] {
      rlimit limit{};
      if (prlimit(keeper, RLIMIT_NOFILE, nullptr, &limit) != 0) return 1;
      limit.rlim_cur = soft == RLIM_INFINITY ? limit.rlim_max : soft;
      return prlimit(keeper, RLIMIT_NOFILE, &limit, nullptr) == 0 ? 0 : 2;
    };
    return geteuid() == keeper_uid ? set() : test_support::as_user(keeper_user, set);
  };
  std::vector<int> clients;
  // Whatever happens below: the keeper gets its descriptors back and the server goes.
  struct Restore {
    std::function<void()> f;
    ~Restore() { f(); }
  } restore{[&] {
    for (const int fd : clients) close(fd);
    clients.clear();
    set_limit(RLIM_INFINITY);
    run({cli(), "stop", j["uri"].get<std::string>()});
  }};
  ASSERT_EQ(set_limit(static_cast<rlim_t>(open_fds + 2)), 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket.c_str());
  for (int i = 0; i < 8; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0)
        << std::strerror(errno);
  }
  const long start = cpu_ticks(keeper);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long used = cpu_ticks(keeper) - start;
  EXPECT_LT(used, sysconf(_SC_CLK_TCK) / 2) << "the keeper spun: " << used << " ticks in 1 s";
  for (const int fd : clients) close(fd);
  clients.clear();
  ASSERT_EQ(set_limit(RLIM_INFINITY), 0);
  // It serves again once clients leave.
  r = run({cli(), "stop", j["uri"].get<std::string>()});
  EXPECT_EQ(r.status, 0) << r.err;
  restore.f = [] {};
}

TEST(Cli, SixteenConcurrentStarts) {
  std::vector<test_support::Background> bgs;
  for (int i = 0; i < 16; ++i) {
    std::vector<std::string> argv = {cli(), "start", "-w", "60"};
    if (i % 2) argv.push_back("--tcp");
    bgs.push_back(test_support::spawn(argv));
  }
  std::set<std::string> uris;
  for (auto& b : bgs) {
    uris.insert(test_support::read_line(b.out_fd));
    EXPECT_EQ(test_support::wait_exit(b.pid), 0);
    close(b.out_fd);
  }
  EXPECT_EQ(uris.size(), 16u);
  for (const auto& u : uris) {
    Connection c(u);
    EXPECT_TRUE(c.ok()) << u << ": " << c.error();
    EXPECT_EQ(run({cli(), "stop", u}).status, 0);
  }
}

TEST(Cli, BadInputGetsOneLineAndADistinctExitCode) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"start", "--no-such-option"}, 2, "--no-such-option"},
      {{"start", "-o", "-c work_mem=lots"}, 4, "invalid value for parameter \"work_mem\""},
      {{"start", "-o", "work_mem"}, 2, "not a setting"},
      {{"start", "--pg-config", "/nonexistent/pg_config"}, 3, "pg_config"},
      {{"start", "--extension", "/nonexistent"}, 5, "not a directory"},
      {{"start", "--extension", PGUT_FIXTURES "/broken_ext"}, 5, "does not build"},
      {{"stop", "postgresql://postgres@/postgres?host=%2Fnowhere"}, 7, "no running"},
      {{"exec"}, 2, "needs a command"},
      {{"exec", "--", "/no/such/command"}, 2, "not found"},
      {{"exec", "--", PGUT_FIXTURES "/hello_ext/Makefile"}, 2, "is not executable"},
      {{"start", "--stock", "--freeze", "2024-01-01"}, 2, "which --stock leaves out"},
      {{"start", "--create", "no_such_extension"},
       5,
       "HINT: The extension must first be installed"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {cli()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run(argv);
    EXPECT_EQ(r.status, c.status) << c.args[0] << " " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(Cli, FailedExtensionBuildQuotesTheErrorAndKeepsTheLog) {
  auto r = run({cli(), "start", "--extension", PGUT_FIXTURES "/broken_ext"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("error: unknown type name"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("*** "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("^~"), std::string::npos) << "caret lines quoted: " << r.err;
  const auto at = r.err.find("(the whole output: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string log = r.err.substr(at + 19, r.err.find(')', at) - at - 19);
  EXPECT_TRUE(fs::exists(log)) << log;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, BaseDirectoryThatDoesNotExistIsAnError) {
  auto r = run({cli(), "start"}, {{"PG_UNIT_TESTS_DIR", "/tmp/pgut-no-such-directory"}});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("PG_UNIT_TESTS_DIR=/tmp/pgut-no-such-directory is not a directory"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists("/tmp/pgut-no-such-directory")) << "created it";
}

TEST(Cli, HelpListsExitCodes) {
  auto r = run({cli(), "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
}

TEST(Cli, NoMessagePrintsThePasswordOfAUri) {
  // Messages land in CI logs: a URI is quoted with its password masked, in every form libpq reads.
  for (const std::string uri : {"postgresql://postgres:S3cretPw@127.0.0.1:1/postgres",
                                "postgresql://postgres@127.0.0.1:1/postgres?password=S3cretPw",
                                "host=127.0.0.1 port=1 user=postgres password='S3cret Pw'"}) {
    auto r = run({cli(), "clock", "freeze", "--uri", uri});
    EXPECT_EQ(r.status, 7) << r.err;
    EXPECT_EQ(r.err.find("S3cret"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("127.0.0.1"), std::string::npos) << "the URI is still named: " << r.err;
    r = run({cli(), "clock", "list"}, {{"DATABASE_URL", uri}});
    EXPECT_EQ(r.status, 7) << r.err;
    EXPECT_EQ(r.err.find("S3cret"), std::string::npos) << r.err;
    r = run({cli(), "stop", uri});
    EXPECT_EQ(r.status, 7) << r.err;
    EXPECT_EQ(r.err.find("S3cret"), std::string::npos) << r.err;
  }
}

TEST(Cli, ClockTakesANegativeIntervalAfterDashDash) {
  auto r = run({cli(), "start", "--create", "pg_unit_tests"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string uri = trim(r.out);
  r = run({cli(), "clock", "freeze", "2024-03-01T12:00:00Z", "--uri", uri});
  EXPECT_EQ(r.status, 0) << r.err;
  // As with any CLI11 program: after "--" a leading "-" is no option; the words are the interval.
  r = run({cli(), "clock", "advance", "--uri", uri, "--", "-1", "day"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "2024-02-29 12:00:00+00\n");
  r = run({cli(), "clock", "advance", "--uri", uri, "--", "-2 hours"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "2024-02-29 10:00:00+00\n");
  // A command that takes no value says so rather than ignoring words.
  r = run({cli(), "clock", "release", "--uri", uri, "--", "now"});
  EXPECT_EQ(r.status, 2) << r.err;
  r = run({cli(), "clock", "advance", "--uri", uri});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("INTERVAL"), std::string::npos) << r.err;
  EXPECT_EQ(run({cli(), "stop", uri}).status, 0);
}

TEST(Cache, WarmStatusClearInAPrivateDirectory) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  auto r = run({cli(), "cache", "warm"}, env);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("template"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("spare"), std::string::npos) << r.out;
  r = run({cli(), "cache", "status", "--json"}, env);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["items"].size(), 2u);
  r = run({cli(), "cache", "clear"}, env);
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({cli(), "cache", "status", "--json"}, env);
  EXPECT_EQ(nlohmann::json::parse(r.out)["items"].size(), 0u);
}

TEST(Cache, TwoHarnessesWarmingAtOnceCorruptNothing) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  std::vector<test_support::Background> bgs;
  for (int i = 0; i < 2; ++i) bgs.push_back(test_support::spawn({cli(), "cache", "warm"}, env));
  for (int i = 0; i < 2; ++i) bgs.push_back(test_support::spawn({cli(), "start", "-w", "30"}, env));
  std::vector<std::string> uris;
  for (size_t i = 0; i < bgs.size(); ++i) {
    std::string line = test_support::read_line(bgs[i].out_fd);
    EXPECT_EQ(test_support::wait_exit(bgs[i].pid), 0);
    if (i >= 2) uris.push_back(line);
    close(bgs[i].out_fd);
  }
  auto j = nlohmann::json::parse(run({cli(), "cache", "status", "--json"}, env).out);
  int templates = 0;
  for (const auto& item : j["items"]) templates += item["kind"] == "template";
  EXPECT_EQ(templates, 1);
  for (const auto& u : uris) {
    Connection c(u);
    EXPECT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.value("SELECT count(*) > 0 FROM pg_class"), "t");
  }
}

TEST(Cache, ClearWhileServersStartLosesNoStart) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  ASSERT_EQ(run({cli(), "cache", "warm", "--servers", "2"}, env).status, 0);
  // Starts (some claiming spares, some copying the template, some needing the overlay) and
  // clears, all at once.
  std::vector<std::thread> clears;
  std::atomic<bool> done{false};
  for (int i = 0; i < 2; ++i) {
    clears.emplace_back([&] {
      while (!done) run({cli(), "cache", "clear"}, env);
    });
  }
  std::vector<test_support::Output> starts(12);
  std::vector<std::thread> starters;
  for (size_t i = 0; i < starts.size(); ++i) {
    starters.emplace_back([&, i] { starts[i] = run({cli(), "start", "-w", "20"}, env); });
  }
  for (auto& t : starters) t.join();
  done = true;
  for (auto& t : clears) t.join();
  for (const auto& r : starts) {
    EXPECT_EQ(r.status, 0) << r.err;
    Connection c(trim(r.out));
    EXPECT_TRUE(c.ok()) << c.error();
  }
  // The pool does not refill what the last clear removed.
  EXPECT_EQ(run({cli(), "cache", "clear"}, env).status, 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto j = nlohmann::json::parse(run({cli(), "cache", "status", "--json"}, env).out);
  for (const auto& item : j["items"]) {
    EXPECT_NE(item["kind"], "spare") << item;
    EXPECT_NE(item["kind"], "server") << item;
  }
}

TEST(Cache, UnwritableDirectoryIsOneClearError) {
  auto r = run({cli(), "start"}, {{"PG_UNIT_TESTS_DIR", "/proc/version/x"}});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("/proc/version"), std::string::npos) << r.err;
}

TEST(Cache, FullDiskDuringCopyLeavesNothingHalfWritten) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  ScratchDir dir;
  const fs::path small = dir.path / "small";
  fs::create_directory(small);
  // Room for the template (about 24 MB) but not for a second copy.
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=36m,mode=0755") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here";
  }
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", small.string()}};
  auto r = run({cli(), "start", "-w", "5"}, env);
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("disk is full"), std::string::npos) << r.err;
  // No half-copied server directory and no server.
  auto j = nlohmann::json::parse(run({cli(), "list", "--json"}, env).out);
  EXPECT_EQ(j.size(), 0u);
  std::error_code ec;
  size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(small, ec)) {
    for (const auto& s : fs::directory_iterator(e.path() / "run", ec)) {
      (void)s;
      ++leftovers;
    }
  }
  EXPECT_EQ(leftovers, 0u);
  umount2(small.c_str(), MNT_DETACH);
}

namespace {
// The POSIX shared memory segments (/dev/shm/PostgreSQL.*) of `uid` that no process has open or
// mapped: left behind by a PostgreSQL process that ended without cleaning up.
std::set<std::string> abandoned_segments(uid_t uid) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator("/dev/shm")) {
    struct stat st {};
    const std::string name = e.path().filename();
    if (name.rfind("PostgreSQL.", 0) != 0 || lstat(e.path().c_str(), &st) != 0 ||
        st.st_uid != uid) {
      continue;
    }
    bool used = false;
    for (const auto& p : fs::directory_iterator("/proc")) {
      std::ifstream maps(p.path() / "maps");
      for (std::string line; !used && std::getline(maps, line);)
        used = line.ends_with(e.path().string());
      std::error_code ec;
      for (const auto& fd : fs::directory_iterator(p.path() / "fd", ec)) {
        used = used || fs::read_symlink(fd.path(), ec) == e.path();
      }
      if (used) break;
    }
    if (!used) out.insert(name);
  }
  return out;
}
}  // namespace

TEST(Cache, FullDiskDuringInitdbLeavesNoSharedMemoryBehind) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const passwd* server_user = getpwnam("pg_unit_tests");
  ASSERT_NE(server_user, nullptr);
  ScratchDir dir;
  const fs::path small = dir.path / "small";
  fs::create_directory(small);
  // Room for the overlay (about 17 MB) but not for initdb's cluster (24 MB): its backend PANICs
  // ("No space left on device") and aborts without removing its POSIX segments.
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=26m,mode=0755") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here";
  }
  const auto before = abandoned_segments(server_user->pw_uid);
  auto r = run({cli(), "start", "-w", "5"}, {{"PG_UNIT_TESTS_DIR", small.string()}});
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("initdb"), std::string::npos) << r.err;
  std::vector<std::string> left;
  for (const auto& name : abandoned_segments(server_user->pw_uid)) {
    if (!before.count(name)) left.push_back(name);
  }
  EXPECT_TRUE(left.empty()) << left.size() << " segment(s) left in /dev/shm, " << left.front();
  umount2(small.c_str(), MNT_DETACH);
}

TEST(Cache, FullDiskWhileCopyingThePostgresBinarySaysDiskFull) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  ScratchDir dir;
  const fs::path small = dir.path / "small";
  fs::create_directory(small);
  // Too small for the overlay's copy of the postgres binary (about 9 MB).
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=8m,mode=0755") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here";
  }
  auto r = run({cli(), "start", "-w", "5"}, {{"PG_UNIT_TESTS_DIR", small.string()}});
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("disk is full"), std::string::npos) << r.err;
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(small)) {
    files +=
        e.is_regular_file() && e.path().extension() != ".lock" && e.path().extension() != ".json";
  }
  EXPECT_EQ(files, 0u) << "a half-built overlay was left";
  umount2(small.c_str(), MNT_DETACH);
}

namespace {
// No server and no keeper of the base directory runs (their command lines name run/<id>/), and
// soon no process mentions it at all (a spare copy of the template that a keeper started goes on
// until it is done, as it should: the next start needs it).
bool nothing_left_running(const fs::path& scratch) {
  const std::string base = scratch.string() + "/pg_unit_tests-";
  for (pid_t pid : test_support::processes_matching(base)) {
    const auto cmd = test_support::command_line(pid);
    if (cmd.find("/run/") != std::string::npos) {
      ADD_FAILURE() << "still running: " << cmd;
      return false;
    }
  }
  return test_support::eventually([&] { return test_support::processes_matching(base).empty(); });
}

std::vector<nlohmann::json> spare_servers(
    const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<nlohmann::json> out;
  auto j = nlohmann::json::parse(run({cli(), "cache", "status", "--json"}, env).out);
  for (const auto& item : j["items"]) {
    if (item["kind"] == "server") out.push_back(item);
  }
  return out;
}
}  // namespace

TEST(SpareServers, ClaimedByStartAndReplaced) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  ASSERT_EQ(run({cli(), "cache", "warm", "--servers", "1"}, env).status, 0);
  auto spares = spare_servers(env);
  ASSERT_EQ(spares.size(), 1u);
  const std::string spare_path = spares[0]["path"];
  // Spares are not listed as running servers until claimed.
  EXPECT_EQ(nlohmann::json::parse(run({cli(), "list", "--json"}, env).out).size(), 0u);

  auto r = run({cli(), "start", "--json"}, env);
  ASSERT_EQ(r.status, 0) << r.err;
  auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["directory"], spare_path) << "start should hand out the pre-started server";
  Connection c(info["uri"].get<std::string>());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.value("SELECT 1"), "1");
  // The pool refills itself with a new server.
  EXPECT_TRUE(test_support::eventually([&] {
    auto now = spare_servers(env);
    return now.size() == 1 && now[0]["path"] != spare_path;
  }));
  EXPECT_EQ(nlohmann::json::parse(run({cli(), "list", "--json"}, env).out).size(), 1u);
  EXPECT_EQ(run({cli(), "stop", info["uri"].get<std::string>()}, env).status, 0);
  EXPECT_FALSE(fs::exists(spare_path));
  // clear stops the spare in the pool.
  EXPECT_EQ(run({cli(), "cache", "clear"}, env).status, 0);
  EXPECT_TRUE(spare_servers(env).empty());
  EXPECT_TRUE(nothing_left_running(dir.path));
}

TEST(SpareServers, ClaimedByExecFollowsItsOwner) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  ASSERT_EQ(run({cli(), "cache", "warm", "--servers", "1"}, env).status, 0);
  const std::string spare_path = spare_servers(env).at(0)["path"];
  auto bg = test_support::spawn(
      {cli(), "exec", "--", "/bin/sh", "-c", "echo $PGHOST; echo $$; exec sleep 30"}, env);
  const std::string host = test_support::read_line(bg.out_fd);
  const pid_t command = std::stoi(test_support::read_line(bg.out_fd));
  EXPECT_EQ(host, spare_path);
  kill(bg.pid, SIGKILL);
  test_support::wait_exit(bg.pid);
  // The keeper watches the claimer's pid: the server goes when the claimer dies.
  EXPECT_TRUE(
      test_support::eventually([&] { return !fs::exists(host); }, std::chrono::seconds(30)));
  kill(command, SIGKILL);
  close(bg.out_fd);
}

TEST(SpareServers, UnclaimedSparesRetire) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}, {"PG_UNIT_TESTS_SPARE_IDLE", "3"}};
  ASSERT_EQ(run({cli(), "cache", "warm", "--servers", "2"}, env).status, 0);
  EXPECT_FALSE(spare_servers(env).empty());
  EXPECT_TRUE(test_support::eventually([&] { return spare_servers(env).empty(); }));
  EXPECT_TRUE(nothing_left_running(dir.path));
}

TEST(SpareServers, StopAllStopsSparesToo) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  ASSERT_EQ(run({cli(), "cache", "warm", "--servers", "2"}, env).status, 0);
  ASSERT_EQ(spare_servers(env).size(), 2u);
  EXPECT_EQ(run({cli(), "stop", "--all"}, env).status, 0);
  EXPECT_TRUE(spare_servers(env).empty());
  EXPECT_TRUE(nothing_left_running(dir.path));
}

TEST(SpareServers, RetireWhenTheirFilesAreRemoved) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", dir.path.string()}};
  ASSERT_EQ(run({cli(), "cache", "warm", "--servers", "1"}, env).status, 0);
  // rm -rf of the whole base directory, pool token included: the keeper must not wait forever.
  std::error_code ec;
  fs::remove_all(dir.path / ("pg_unit_tests-" + std::to_string(geteuid() == 0 ? 0 : geteuid())),
                 ec);
  for (const auto& e : fs::directory_iterator(dir.path, ec)) fs::remove_all(e.path(), ec);
  EXPECT_TRUE(test_support::eventually([&] {
    return test_support::processes_matching(dir.path.string() + "/pg_unit_tests-").empty();
  }));
}
