// The harness on a shared machine, attacked: a hostile local user plants its directories, swaps
// paths under it while it runs, or leaves files that name other processes; a careless one points
// `stop` at the wrong directory. Root runs the harness; the tests that need a second user create
// one (pgut_attacker) and skip when not run as root. Set PGUT_TEST_CLI to run them against
// another build.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace fs = std::filesystem;
using test_support::cli;
using test_support::run;

namespace {

// A scratch directory for PG_UNIT_TESTS_DIR with the given mode; servers in it are stopped and
// it is removed afterwards.
struct ScratchRoot {
  fs::path path;
  explicit ScratchRoot(mode_t mode) {
    char tmpl[] = "/tmp/pgut-test-XXXXXX";
    path = mkdtemp(tmpl);
    chmod(path.c_str(), mode);
  }
  ~ScratchRoot() {
    chmod(path.c_str(), 0755);
    run({cli(), "stop", "--all"}, env());
    test_support::remove_tree_eventually(path);
  }
  std::vector<std::pair<std::string, std::string>> env() const {
    return {{"PG_UNIT_TESTS_DIR", path.string()}};
  }
};

// The names a harness run by root might give its base directory here: by the caller's uid, and
// (older versions) by the server user's.
std::vector<std::string> base_names() {
  std::vector<std::string> names = {"pg_unit_tests-0"};
  if (const passwd* pw = getpwnam("pg_unit_tests")) {
    names.push_back("pg_unit_tests-" + std::to_string(pw->pw_uid));
  }
  return names;
}

struct Owner {
  uid_t uid;
  mode_t mode;
  bool operator==(const Owner&) const = default;
};
Owner owner_of(const fs::path& p) {
  struct stat st {};
  lstat(p.c_str(), &st);
  return Owner{st.st_uid, st.st_mode & 07777};
}

unsigned long long start_time(pid_t pid) {
  const auto fields = test_support::stat_fields(pid);
  return fields.size() > 22 ? std::stoull(fields[22]) : 0;
}

}  // namespace

TEST(HostileUser, PlantedBaseDirectoryIsNeverAdopted) {
  const auto attacker = test_support::hostile_user();
  if (!attacker) GTEST_SKIP() << "needs root (to create a second local user, pgut_attacker)";
  ScratchRoot root(01777);  // like /dev/shm and /tmp: anyone may create entries
  // Before root's first run, the attacker creates the base directory root's harness will use,
  // writable by everyone, with a cache and a run directory in it.
  ASSERT_EQ(test_support::as_user(
                *attacker,
                [&] {
                  for (const auto& name : base_names()) {
                    const fs::path base = root.path / name;
                    for (const fs::path& d : {base, base / "cache", base / "run", base / "build"}) {
                      if (mkdir(d.c_str(), 0777) != 0 || chmod(d.c_str(), 0777) != 0) {
                        return 1;
                      }
                    }
                  }
                  return 0;
                }),
            0);
  auto r = run({cli(), "start", "-w", "5"}, root.env());
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("remove it"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << "a server was started in the attacker's directory: " << r.out;
  // Nothing of the attacker's was taken over.
  for (const auto& name : base_names()) {
    for (const fs::path& d : {root.path / name, root.path / name / "cache"}) {
      EXPECT_EQ(owner_of(d), (Owner{attacker->uid, 0777})) << d;
    }
  }
}

TEST(HostileUser, WorldWritableDirectoryIsRefused) {
  ScratchRoot root(0777);  // writable by everyone and not sticky: anyone can swap what is inside
  auto r = run({cli(), "start", "-w", "5"}, root.env());
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("can be written by other users"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(fs::is_empty(root.path)) << "the harness created files there";
}

// The attacker makes the base directory root will use and a symlink to a directory of root's
// next to it, and swaps the two (renameat2 RENAME_EXCHANGE) in a loop while root's harness runs;
// when the base is no longer the attacker's (root took it), it moves it away and plants a new
// one, where the parent lets it. Root must never change the owner or mode of the victim.
void race_swapper(mode_t root_mode) {
  const auto attacker = test_support::hostile_user();
  if (!attacker) GTEST_SKIP() << "needs root (to create a second local user, pgut_attacker)";
  ScratchRoot root(root_mode);
  const fs::path victim = root.path.string() + "-victim";
  ASSERT_EQ(mkdir(victim.c_str(), 0755), 0);
  ASSERT_EQ(chmod(victim.c_str(), 0755), 0);
  const pid_t swapper = fork();
  if (swapper == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(attacker->gid) != 0 || setuid(attacker->uid) != 0) {
      _exit(126);
    }
    const auto names = base_names();
    for (const auto& name : names) symlink(victim.c_str(), (root.path / (name + ".swap")).c_str());
    for (unsigned n = 0;; ++n) {
      for (const auto& name : names) {
        const fs::path base = root.path / name;
        struct stat st;
        if (lstat(base.c_str(), &st) != 0) {
          mkdir(base.c_str(), 0777);
        } else if (S_ISDIR(st.st_mode) && st.st_uid != getuid()) {
          rename(base.c_str(), (root.path / ("taken-" + std::to_string(n))).c_str());
        }
        renameat2(AT_FDCWD, base.c_str(), AT_FDCWD, (root.path / (name + ".swap")).c_str(),
                  RENAME_EXCHANGE);
      }
    }
  }
  for (int i = 0; i < 60 && owner_of(victim) == (Owner{0, 0755}); ++i) {
    run({cli(), "start", "-w", "2"}, root.env());
  }
  kill(swapper, SIGKILL);
  test_support::wait_exit(swapper);
  EXPECT_EQ(owner_of(victim), (Owner{0, 0755})) << "root changed the owner or mode of " << victim;
  fs::remove_all(victim);
}

TEST(HostileUser, SwappingPathsNeverRedirectsAChownOrChmod) {
  race_swapper(0777);  // a directory writable by everyone, as a careless PG_UNIT_TESTS_DIR is
}

TEST(HostileUser, SwappingPathsInAStickyDirectoryNeverRedirectsAChownOrChmod) {
  // As /dev/shm and /tmp are: the root check accepts it, so the race meets the base's creation.
  race_swapper(01777);
}

TEST(HostileUser, StopSignalsNoProcessNamedInAFile) {
  ScratchRoot root(0755);
  // A server, so that the base and run directories exist.
  auto r = run({cli(), "start", "--json", "-w", "30"}, root.env());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  const fs::path run_dir = fs::path(info["directory"].get<std::string>()).parent_path();
  // A process that is not the harness's; its pid might have been a dead keeper's or postmaster's.
  auto victim = test_support::spawn({"/bin/sleep", "60"});
  ASSERT_GT(victim.pid, 0);
  // What a keeper that was killed would have left behind, naming that pid (and its start time,
  // as a reused pid would have it).
  const fs::path dead = run_dir / "deadbeef00";
  fs::create_directories(dead / "data");
  std::ofstream(dead / "keeper.pid") << victim.pid << " " << start_time(victim.pid) << "\n";
  nlohmann::json state = {{"pid", victim.pid},
                          {"keeper_pid", victim.pid},
                          {"data_directory", (dead / "data").string()},
                          {"directory", dead.string()}};
  std::ofstream(dead / "server.json") << state.dump();
  struct stat st {};
  stat(run_dir.c_str(), &st);
  for (const auto& e : fs::recursive_directory_iterator(dead)) {
    lchown(e.path().c_str(), st.st_uid, st.st_gid);
  }
  lchown(dead.c_str(), st.st_uid, st.st_gid);
  // Left a while ago (its pid was reused since): not a server that is starting, which stop waits
  // for.
  const timespec then[2] = {{time(nullptr) - 600, 0}, {time(nullptr) - 600, 0}};
  utimensat(AT_FDCWD, dead.c_str(), then, 0);

  run({cli(), "stop", dead.string()}, root.env());
  EXPECT_TRUE(test_support::alive(victim.pid)) << "stop DIR killed an unrelated process";
  run({cli(), "stop", "--all"}, root.env());
  EXPECT_TRUE(test_support::alive(victim.pid)) << "stop --all killed an unrelated process";
  run({cli(), "start", "-w", "1"}, root.env());  // collects garbage
  EXPECT_TRUE(test_support::alive(victim.pid)) << "start killed an unrelated process";
  kill(victim.pid, SIGKILL);
  test_support::wait_exit(victim.pid);
  close(victim.out_fd);
}

namespace {

// A keeper that created run/<id> and opens its socket only once told to (a byte on the returned
// fd) and then `delay` later; it answers one "stop" as keepers do (directory removed, then the
// answer). Forked as the server user; exits 0 once it was asked to stop, 2 when its directory went
// before it could listen. The test tells it to go when it starts the stop under test: stop's wait
// (5 s) starts later than the delay does, however slowly the machine starts processes, and ends
// after it.
struct SlowKeeper {
  pid_t pid = -1;
  int go = -1;
};
SlowKeeper slow_keeper(const fs::path& dir, const struct stat& owner,
                       std::chrono::milliseconds delay) {
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) return {};
  // Computed before the fork: the child only makes system calls.
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", (dir / "keeper.sock").c_str());
  char directory[sizeof a.sun_path];
  std::snprintf(directory, sizeof directory, "%s", dir.c_str());
  const pid_t pid = fork();
  if (pid != 0) {
    close(ready[1]);
    close(go[0]);
    char c;
    const bool started = pid > 0 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    if (!started) {
      ADD_FAILURE() << "the keeper did not start";
      if (pid > 0) waitpid(pid, nullptr, 0);
      close(go[1]);
      return {};
    }
    return {pid, go[1]};
  }
  close(go[1]);
  alarm(60);
  if (geteuid() == 0 && (setgid(owner.st_gid) != 0 || setuid(owner.st_uid) != 0)) _exit(3);
  if (mkdir(dir.c_str(), 0700) != 0) _exit(4);
  (void)!write(ready[1], "x", 1);
  char byte;
  if (read(go[0], &byte, 1) != 1) _exit(6);
  const timespec pause{static_cast<time_t>(delay.count() / 1000),
                       static_cast<long>(delay.count() % 1000) * 1000000L};
  nanosleep(&pause, nullptr);
  const char* path = a.sun_path;
  const int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 8) != 0) _exit(2);
  const int c = accept(s, nullptr, nullptr);
  char line[512];
  size_t n = 0;
  while (n + 1 < sizeof line && read(c, &line[n], 1) == 1 && line[n] != '\n') ++n;
  line[n] = '\0';
  if (strstr(line, "\"stop\"") == nullptr) _exit(5);
  unlink(path);
  rmdir(directory);
  (void)!write(c, "{\"ok\":true}\n", 12);
  _exit(0);
}

}  // namespace

TEST(Races, StopAllStopsAServerThatIsStillStartingInsteadOfRemovingIt) {
  ScratchRoot root(0755);
  auto r = run({cli(), "start", "--json", "-w", "30"}, root.env());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  const fs::path run_dir = fs::path(info["directory"].get<std::string>()).parent_path();
  ASSERT_EQ(run({cli(), "stop", info["uri"].get<std::string>()}, root.env()).status, 0);
  struct stat owner {};
  ASSERT_EQ(stat(run_dir.c_str(), &owner), 0);
  // Its keeper is slow to open its socket: stop --all waits for it and asks it to stop, rather
  // than removing the directory from under a server that is coming up.
  const fs::path starting = run_dir / "0a1b2c3d4e";
  // `stop --all`, then `stop DIR`.
  for (const std::string& target : {std::string("--all"), starting.string()}) {
    const SlowKeeper keeper = slow_keeper(starting, owner, std::chrono::milliseconds(2000));
    ASSERT_GT(keeper.pid, 0);
    auto stop = test_support::spawn({cli(), "stop", target}, root.env());
    ASSERT_GT(stop.pid, 0);
    ASSERT_EQ(write(keeper.go, "x", 1), 1);
    close(keeper.go);
    EXPECT_EQ(test_support::wait_exit(stop.pid), 0) << "stop " << target;
    close(stop.out_fd);
    int status = 0;
    ASSERT_EQ(waitpid(keeper.pid, &status, 0), keeper.pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "stop " << target << ": the starting server was not asked to stop (status " << status
        << ")";
    EXPECT_FALSE(fs::exists(starting));
  }
  // A directory whose keeper never opened its socket, made minutes ago: a keeper that died at
  // its start. That one is removed.
  ASSERT_EQ(mkdir(starting.c_str(), 0700), 0);
  ASSERT_EQ(chown(starting.c_str(), owner.st_uid, owner.st_gid), 0);
  const timespec old[2] = {{time(nullptr) - 600, 0}, {time(nullptr) - 600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, starting.c_str(), old, 0), 0);
  r = run({cli(), "stop", "--all"}, root.env());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(starting));
}

TEST(CarelessUser, StopRemovesNothingButServerDirectories) {
  ScratchRoot root(0755);
  // A directory of the user's that happens to hold a server.json.
  const fs::path mine = root.path / "my-project";
  fs::create_directories(mine / "sub");
  std::ofstream(mine / "server.json") << "{}";
  std::ofstream(mine / "precious.txt") << "keep me";
  for (const fs::path& target : {mine, mine / "sub"}) {
    auto r = run({cli(), "stop", target.string()}, root.env());
    EXPECT_EQ(r.status, 7) << target << ": " << r.err;
    EXPECT_NE(r.err.find("no running pg_unit_tests server"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(mine / "precious.txt")) << "stop " << target << " removed files";
    EXPECT_TRUE(fs::exists(mine / "sub"));
  }
}

TEST(CarelessUser, SettingsThatWouldListenElsewhereAreRefused) {
  ScratchRoot root(0755);
  for (const char* setting : {"-c listen_addresses=*", "-c port=5433",
                              "-c unix_socket_directories=/tmp", "-c hba_file=/etc/passwd"}) {
    auto r = run({cli(), "start", "-w", "5", "-o", setting}, root.env());
    EXPECT_EQ(r.status, 2) << setting << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("is the harness's to choose"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << "started a server with " << setting << ": " << r.out;
  }
}
