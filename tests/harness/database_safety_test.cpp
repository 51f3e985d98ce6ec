// Nothing lost: dropdb drops only what createdb handed out, and a `snapshot restore` killed at any
// moment leaves the database (old or restored) and no copies. End to end through the CLI (set
// PGUT_TEST_CLI to run them against another build).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/errors.hpp"
#include "support/process.hpp"

using pg_unit_tests::Server;
using pg_unit_tests::with_database;
using test_support::cli;
using test_support::Connection;
using test_support::run;
using test_support::trim;

TEST(NothingLost, DropdbDropsOnlyWhatCreatedbHandedOut) {
  Server server = Server::start();
  Connection c(server.uri());
  c.query("CREATE DATABASE mine");
  c.query("CREATE DATABASE pgut_test_lookalike");
  for (const char* name : {"postgres", "template1", "mine", "pgut_test_lookalike"}) {
    auto r = run({cli(), "dropdb", name, "--uri", server.uri()});
    EXPECT_EQ(r.status, 9) << name << ": " << r.err;
    EXPECT_NE(r.err.find("only databases that createdb handed out"), std::string::npos) << r.err;
    EXPECT_EQ(
        c.value("SELECT count(*) FROM pg_database WHERE datname = '" + std::string(name) + "'"),
        "1")
        << name << " was dropped";
  }
  // Through a URI too.
  auto r = run({cli(), "dropdb", with_database(server.uri(), "mine")});
  EXPECT_EQ(r.status, 9) << r.err;
  EXPECT_EQ(c.value("SELECT count(*) FROM pg_database WHERE datname = 'mine'"), "1");
  // What createdb handed out goes.
  r = run({cli(), "createdb", "--template", "mine", "--uri", server.uri()});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({cli(), "dropdb", trim(r.out)});
  EXPECT_EQ(r.status, 0) << r.err;
  // In the background ("mine" can change, so the pool keeps no clones of it).
  EXPECT_TRUE(test_support::eventually([&] {
    return c.value(
               "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgut_test_%' AND "
               "datname <> 'pgut_test_lookalike'") == "0";
  }));
}

TEST(NothingLost, RestoreKilledAtAnyMomentLeavesTheDatabaseAndNoCopies) {
  Server server = Server::start();
  const std::string app = with_database(server.uri(), "app");
  {
    Connection c(server.uri());
    c.query("CREATE DATABASE app");
  }
  auto value = [&] {
    Connection a(app);
    return a.ok() ? a.value("SELECT v FROM t") : std::string("<no database app>");
  };
  {
    Connection a(app);
    a.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('snapshot')");
  }
  ASSERT_EQ(run({cli(), "snapshot", "save", "s", "--uri", app}).status, 0);
  // How long a whole restore takes here, to kill them at random points of it.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run({cli(), "snapshot", "restore", "s", "--uri", app}).status, 0);
  const auto whole =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<long> at(0, whole.count() * 6 / 5);
  Connection admin(server.uri());
  for (int round = 0; round < 12; ++round) {
    {
      Connection a(app);
      ASSERT_TRUE(a.ok()) << a.error();
      a.query("UPDATE t SET v = 'changed'");
    }
    auto restore = test_support::spawn({cli(), "snapshot", "restore", "s", "--uri", app});
    std::this_thread::sleep_for(std::chrono::microseconds(at(random)));
    kill(restore.pid, SIGKILL);
    test_support::wait_exit(restore.pid);
    close(restore.out_fd);
    // Its server session finishes the statement it was running, then ends.
    EXPECT_TRUE(test_support::eventually([&] {
      return admin.value(
                 "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                 "'pg_unit_tests restore %'") == "0";
    }));
    const std::string v = value();
    EXPECT_TRUE(v == "changed" || v == "snapshot") << "round " << round << ": " << v;
  }
  // Whatever the killed restores left, the next restore removes (as does snapshot list).
  EXPECT_EQ(run({cli(), "snapshot", "restore", "s", "--uri", app}).status, 0);
  EXPECT_EQ(value(), "snapshot");
  EXPECT_EQ(admin.value("SELECT string_agg(datname, ', ') FROM pg_database WHERE datname ~ "
                        "'^pgut_(restore|old)_'"),
            "");
}
