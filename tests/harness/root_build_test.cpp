// Root with its build where the server user cannot enter (a clone under /root, mode 0700): the
// keeper and the database pool run as the server user, so the harness must give them programs
// that user can reach. The build's programs are copied into such a directory and named with
// PG_UNIT_TESTS_KEEPER, as an installation under /root would be found.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "pg_unit_tests/cache.hpp"
#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using pg_unit_tests::Database;
using pg_unit_tests::Server;
using test_support::Connection;

namespace {

// A root-owned 0700 directory holding copies of the keeper and the pool (side by side, as the
// build and the installation put them), named by PG_UNIT_TESTS_KEEPER; a private base directory.
struct ClosedBuild {
  test_support::ScratchBase base;
  fs::path closed;
  ClosedBuild() {
    char tmpl[] = "/tmp/pgut-rootbuild-XXXXXX";
    closed = mkdtemp(tmpl);  // mode 0700, owned by root
    fs::create_directory(closed / "libexec");
    for (const fs::path& program : {fs::path(PGUT_KEEPER), fs::path(PGUT_POOL)}) {
      fs::copy_file(program, closed / "libexec" / program.filename());
    }
    setenv("PG_UNIT_TESTS_KEEPER", (closed / "libexec/pg_unit_tests-keeper").c_str(), 1);
  }
  ~ClosedBuild() {
    Server::stop_all();  // (`base` is removed after this, with what is left)
    unsetenv("PG_UNIT_TESTS_KEEPER");
    fs::remove_all(closed);
  }
};

}  // namespace

TEST(RootBuild, ServersStartAndServeDatabasesWhenTheServerUserCannotReachTheBuild) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands servers to another user";
  ClosedBuild build;
  Server s = Server::start();
  {
    Connection c(s.uri());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.value("SELECT 1"), "1");
  }
  // The pool, started by the keeper beside itself.
  Database db = Database::create(s.uri());
  Connection in_db(db.uri());
  ASSERT_TRUE(in_db.ok()) << in_db.error();
  EXPECT_EQ(in_db.value("SELECT current_database()"), db.name());
}

TEST(RootBuild, SparesAreWarmedWhenTheServerUserCannotReachTheBuild) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands servers to another user";
  ClosedBuild build;
  EXPECT_NO_THROW(pg_unit_tests::cache::warm({}, 1));
  Server s = Server::start();
  Connection c(s.uri());
  EXPECT_EQ(c.value("SELECT 1"), "1");
}

namespace {

// The program a server's keeper runs (root may read any process's /proc/PID/exe).
fs::path keeper_exe(const Server& s) {
  return fs::read_symlink("/proc/" + std::to_string(s.info().keeper_pid) + "/exe");
}

}  // namespace

TEST(RootBuild, TheKeeperRunsACheckedCopyMadeOnceInTheBuildDirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands servers to another user";
  ClosedBuild build;
  fs::path exe;
  {
    Server s = Server::start();
    exe = keeper_exe(s);
  }
  EXPECT_EQ(exe.filename(), "pg_unit_tests-keeper");
  EXPECT_EQ(exe.parent_path().parent_path().filename(), "build") << exe;
  struct stat st;
  ASSERT_EQ(stat(exe.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  for (const char* program : {"pg_unit_tests-keeper", "pg_unit_tests-pool"}) {
    ASSERT_EQ(stat((exe.parent_path() / program).c_str(), &st), 0) << program;
    EXPECT_EQ(st.st_uid, 0u) << program;
    EXPECT_EQ(st.st_mode & 0777, 0755u) << program;
  }
  ASSERT_EQ(stat(exe.c_str(), &st), 0);
  const ino_t first = st.st_ino;
  {
    Server s = Server::start();
    EXPECT_EQ(keeper_exe(s), exe);  // copied once
  }
  ASSERT_EQ(stat(exe.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, first);
  // A copy someone else could have changed is not run: it is replaced.
  ASSERT_EQ(chown(exe.c_str(), 1, 1), 0);
  {
    Server s = Server::start();
    EXPECT_EQ(keeper_exe(s), exe);
  }
  ASSERT_EQ(stat(exe.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_NE(st.st_ino, first);
}

// regress --keep-warm launches the spare for the next run itself: from the same checked copy.
TEST(RootBuild, RegressKeepWarmLeavesASpareWhenTheServerUserCannotReachTheBuild) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands servers to another user";
  ClosedBuild build;
  const std::string fixture = PGUT_FIXTURES "/regress/suite";
  const fs::path out =
      build.base.path / "out";  // psql runs here, as pg_regress's does in its caller's
  fs::create_directory(out);
  const auto r = test_support::run(
      {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", out.string(), test_support::cli(), "regress",
       "--keep-warm", "--inputdir=" + fixture, "--outputdir=" + out.string(), "plain"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("no spare server"), std::string::npos) << r.err;
  auto spares = [] {
    int n = 0;
    const auto status = nlohmann::json::parse(
        test_support::run({test_support::cli(), "cache", "status", "--json"}).out);
    for (const auto& item : status.at("items")) n += item.at("kind") == "server";
    return n;
  };
  EXPECT_TRUE(test_support::eventually([&] { return spares() == 1; }));
}

namespace {

// What a rebuild does to the keeper's identity (keeper_program() names its copy by it).
void rebuild(const fs::path& closed) {
  static long long step = 0;
  const timespec when[2] = {{time(nullptr) + (++step) * 60, 0}, {time(nullptr) + step * 60, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (closed / "libexec/pg_unit_tests-keeper").c_str(), when, 0), 0);
}

// Whether some process runs a program from `dir` (a keeper, or its spare-copying refill).
bool runs_from(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::error_code ec;
    const fs::path exe = fs::read_symlink(e.path() / "exe", ec);
    if (!ec && exe.parent_path() == dir) return true;
  }
  return false;
}

std::set<std::string> keeper_copies(const fs::path& build_dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(build_dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("keeper-", 0) == 0 && name.find('.') == std::string::npos) out.insert(name);
  }
  return out;
}

}  // namespace

// Each rebuild makes a new copy (44 MB with debug information, in memory under /dev/shm): the old
// ones go when nothing runs from them any more, at the next copy and at `cache clear`, never from
// under a keeper (b's copy is as old as a's, but b's keeper runs from it), also when root cannot
// read other users' /proc/PID/exe.
TEST(RootBuild, CopiesOfEarlierBuildsAreCollectedOnceNoKeeperRunsFromThem) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands servers to another user";
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv (util-linux)";
  ClosedBuild build;
  Server a = Server::start();
  const std::string copy_a = keeper_exe(a).parent_path().filename();
  const fs::path build_dir = keeper_exe(a).parent_path().parent_path();
  rebuild(build.closed);
  Server b = Server::start();
  const std::string copy_b = keeper_exe(b).parent_path().filename();
  ASSERT_NE(copy_a, copy_b);
  EXPECT_EQ(keeper_copies(build_dir), (std::set<std::string>{copy_a, copy_b}))
      << "a copy a keeper runs from was removed";
  a.stop();
  // Its keeper's last background work (a spare copy of the template) runs from its copy too.
  ASSERT_TRUE(test_support::eventually([&] { return !runs_from(build_dir / copy_a); }));
  // Chosen a minute ago or earlier (a start that chose a copy a moment ago may not run it yet).
  const auto backdate = [&](const std::string& copy) {
    const timespec earlier[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, (build_dir / copy).c_str(), earlier, 0), 0);
  };
  backdate(copy_a);
  backdate(copy_b);
  rebuild(build.closed);
  // The start that makes the next copy collects the earlier ones. It runs without CAP_SYS_PTRACE,
  // as root in a container does: it cannot see which programs the server user's processes run.
  const auto r = test_support::run(
      {"/usr/bin/setpriv", "--bounding-set=-sys_ptrace", test_support::cli(), "start", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto c = nlohmann::json::parse(r.out);
  const std::string copy_c =
      fs::read_symlink("/proc/" + std::to_string(c["keeper_pid"].get<int>()) + "/exe")
          .parent_path()
          .filename();
  EXPECT_EQ(keeper_copies(build_dir), (std::set<std::string>{copy_b, copy_c}))
      << "the copy nobody runs from any more stays, or one a keeper runs from went";
  {
    // b's keeper still starts its pool from beside itself.
    Database db = Database::create(b.uri());
    Connection in_db(db.uri());
    EXPECT_TRUE(in_db.ok()) << in_db.error();
  }
  bool listed = false;
  for (const auto& item : pg_unit_tests::cache::status().items) listed |= item.kind == "keeper";
  EXPECT_TRUE(listed) << "cache status does not show the keeper copies";
  b.stop();
  EXPECT_EQ(test_support::run({test_support::cli(), "stop", c["uri"].get<std::string>()}).status,
            0);
  ASSERT_TRUE(test_support::eventually([&] {
    for (const auto& copy : keeper_copies(build_dir))
      if (runs_from(build_dir / copy)) return false;
    return true;
  }));
  backdate(copy_b);
  backdate(copy_c);
  pg_unit_tests::cache::clear();
  EXPECT_TRUE(keeper_copies(build_dir).empty()) << "cache clear left keeper copies";
}
