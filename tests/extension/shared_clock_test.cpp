// The clock of a whole database (and of the server) as an application's connection pool sees it:
// many sessions, idle or in the middle of a transaction, moved from one other connection.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"

using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::Connection;

namespace {

Server start(ServerOptions options = {}) {
  options.create.push_back("pg_unit_tests");
  return Server::start(options);
}

std::unique_ptr<Connection> connect(const std::string& uri) {
  auto c = std::make_unique<Connection>(uri);
  EXPECT_TRUE(c->ok()) << c->error();
  c->query("SET timezone = 'UTC'");
  c->query("SET datestyle = 'ISO, YMD'");
  return c;
}

bool is_real(const std::string& timestamp) {
  return timestamp > "2025";
}

// A pool of 8: the first four idle, the last four in the middle of a transaction that has run a
// statement (its transaction timestamp is taken), each with a statement prepared before any clock
// was set (CURRENT_TIMESTAMP in a cached plan, 'now' as its parameter).
struct Pool {
  std::vector<std::unique_ptr<Connection>> sessions;
  explicit Pool(const std::string& uri) {
    for (int i = 0; i < 8; i++) {
      auto c = connect(uri);
      c->query(
          "PREPARE clocks AS SELECT now(), CURRENT_TIMESTAMP, statement_timestamp(), "
          "clock_timestamp(), $1::timestamptz, CURRENT_DATE");
      if (i >= 4) {
        c->query("BEGIN");
        c->query("SELECT 1");
      }
      sessions.push_back(std::move(c));
    }
  }
  ~Pool() {
    for (size_t i = 4; i < sessions.size(); i++) sessions[i]->query("ROLLBACK");
  }
};

// Every clock a session reads, as text.
std::vector<std::string> clocks(const Connection& c) {
  return c.query("EXECUTE clocks('now')")[0];
}

}  // namespace

TEST(SharedClock, APoolFollowsTheDatabaseClockAtItsNextStatement) {
  Server server = start();
  Pool pool(server.uri());
  auto test = connect(server.uri());
  for (const auto& c : pool.sessions) EXPECT_TRUE(is_real(c->value("SELECT now()")));

  EXPECT_EQ(test->value("SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database')"),
            "2020-02-02 02:02:02+00");
  for (size_t i = 0; i < pool.sessions.size(); i++) {
    auto values = clocks(*pool.sessions[i]);
    for (size_t v = 0; v < 5; v++) EXPECT_EQ(values[v], "2020-02-02 02:02:02+00") << i << " " << v;
    EXPECT_EQ(values[5], "2020-02-02") << i;
  }

  test->query("SELECT unit_tests.advance('1 day', scope => 'database')");
  for (const auto& c : pool.sessions) EXPECT_EQ(c->value("SELECT now()"), "2020-02-03 02:02:02+00");

  test->query("SELECT unit_tests.travel('2040-01-01 00:00:00+00', scope => 'database')");
  for (const auto& c : pool.sessions) {
    // Travelled: real time plus an offset, so a transaction that began before the call began
    // shortly before 2040-01-01.
    EXPECT_EQ(c->value("SELECT now() BETWEEN '2039-12-31 23:59' AND '2040-01-01 00:01'"), "t");
    EXPECT_EQ(c->value("SELECT clock_timestamp() >= now()"), "t");
  }

  test->query("SELECT unit_tests.unfreeze(scope => 'database')");
  for (const auto& c : pool.sessions) {
    auto values = clocks(*c);
    for (size_t v = 0; v < 5; v++) EXPECT_TRUE(is_real(values[v])) << values[v];
  }
}

// The same 200 times, reading right after each call: no session may see the previous instant
// (with ALTER SYSTEM and a reload, 40 of 200 did).
TEST(SharedClock, NoReadAfterTheCallSeesThePreviousClock) {
  Server server = start();
  Pool pool(server.uri());
  auto test = connect(server.uri());
  int stale = 0;
  for (int i = 0; i < 200; i++) {
    char at[64];
    std::snprintf(at, sizeof at, "2020-01-01 00:00:%02d.%06d+00", i % 60, i);
    test->query(std::string("SELECT unit_tests.freeze('") + at + "', scope => 'database')");
    for (const auto& c : pool.sessions)
      if (c->value(std::string("SELECT now() = '") + at + "'") != "t") stale++;
  }
  EXPECT_EQ(stale, 0);
}

TEST(SharedClock, NewSessionsOtherDatabasesAndTheServerClock) {
  Server server = start();
  auto test = connect(server.uri());
  test->query("CREATE DATABASE other");
  const std::string other_uri = pg_unit_tests::with_database(server.uri(), "other");
  auto other = connect(other_uri);
  test->query("SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database')");
  // A session that starts later sees it at once; another database keeps real time.
  EXPECT_EQ(connect(server.uri())->value("SELECT now()"), "2020-02-02 02:02:02+00");
  EXPECT_TRUE(is_real(other->value("SELECT now()")));
  // The server clock reaches every database; a database clock wins over it.
  test->query("SELECT unit_tests.freeze('2030-03-03 03:03:03+00', scope => 'server')");
  EXPECT_EQ(other->value("SELECT now()"), "2030-03-03 03:03:03+00");
  EXPECT_EQ(connect(other_uri)->value("SELECT CURRENT_TIMESTAMP"), "2030-03-03 03:03:03+00");
  EXPECT_EQ(test->value("SELECT now()"), "2020-02-02 02:02:02+00");
  test->query("SELECT unit_tests.unfreeze(scope => 'database')");
  EXPECT_EQ(test->value("SELECT now()"), "2030-03-03 03:03:03+00");
  test->query("SELECT unit_tests.unfreeze(scope => 'server')");
  EXPECT_TRUE(is_real(test->value("SELECT now()")));
  EXPECT_TRUE(is_real(other->value("SELECT now()")));
}

// The harness's --freeze is the server's configured clock: a server clock set at run time wins
// over it, a database clock over both, a session's own clock over everything.
TEST(SharedClock, PrecedenceOverTheServersConfiguredFreeze) {
  ServerOptions options;
  options.freeze = "2001-01-01T00:00:00Z";
  Server server = start(options);
  auto a = connect(server.uri());
  EXPECT_EQ(a->value("SELECT now() || ' ' || source FROM unit_tests.time_status()"),
            "2001-01-01 00:00:00+00 server setting");
  a->query("SELECT unit_tests.freeze('2002-02-02 00:00:00+00', scope => 'server')");
  EXPECT_EQ(a->value("SELECT now() || ' ' || source FROM unit_tests.time_status()"),
            "2002-02-02 00:00:00+00 server clock");
  a->query("SELECT unit_tests.freeze('2003-03-03 00:00:00+00', scope => 'database')");
  EXPECT_EQ(a->value("SELECT now() || ' ' || source FROM unit_tests.time_status()"),
            "2003-03-03 00:00:00+00 database clock");
  a->query("SELECT unit_tests.freeze('2004-04-04 00:00:00+00')");
  EXPECT_EQ(a->value("SELECT now() || ' ' || source FROM unit_tests.time_status()"),
            "2004-04-04 00:00:00+00 session");
  // Releasing goes back one level at a time.
  a->query("RESET pg_unit_tests.frozen_at");
  EXPECT_EQ(a->value("SELECT now()"), "2003-03-03 00:00:00+00");
  a->query("SELECT unit_tests.unfreeze(scope => 'database')");
  EXPECT_EQ(a->value("SELECT now()"), "2002-02-02 00:00:00+00");
  a->query("SELECT unit_tests.unfreeze(scope => 'server')");
  EXPECT_EQ(a->value("SELECT now()"), "2001-01-01 00:00:00+00");
  // unfreeze() in a session: real time, whatever the server was started with.
  a->query("SELECT unit_tests.unfreeze()");
  EXPECT_TRUE(is_real(a->value("SELECT now()")));
}

// A session that dies holds nothing: the clock it set stays (it belongs to the database), is
// listed without it, and anyone allowed can move or release it.
TEST(SharedClock, AKilledSessionLeavesNothingStuck) {
  Server server = start();
  auto test = connect(server.uri());
  auto victim = connect(server.uri());
  const std::string pid = victim->value("SELECT pg_backend_pid()");
  victim->query("BEGIN");
  victim->query("SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database')");
  victim->query("SELECT unit_tests.freeze('2021-01-01 00:00:00+00')");  // its own clock
  EXPECT_EQ(test->value("SELECT count(*) FROM unit_tests.clocks WHERE pid = " + pid), "1");
  EXPECT_EQ(test->value("SELECT pg_terminate_backend(" + pid + ", 5000)"), "t");
  EXPECT_EQ(test->value("SELECT count(*) FROM unit_tests.clocks WHERE pid = " + pid), "0");
  EXPECT_EQ(test->value("SELECT now()"), "2020-02-02 02:02:02+00");
  EXPECT_EQ(test->value("SELECT frozen_at FROM unit_tests.clocks WHERE kind = 'database'"),
            "2020-02-02 02:02:02+00");
  test->query("SELECT unit_tests.advance('1 day', scope => 'database')");
  EXPECT_EQ(connect(server.uri())->value("SELECT now()"), "2020-02-03 02:02:02+00");
  test->query("SELECT unit_tests.unfreeze(scope => 'database')");
  EXPECT_TRUE(is_real(test->value("SELECT now()")));
}

// A backend killed with SIGKILL makes the server restart (PostgreSQL reinitialises shared
// memory): the clocks are gone, and can be set again.
TEST(SharedClock, ACrashRestartClearsTheClocks) {
  Server server = start();
  auto test = connect(server.uri());
  test->query("SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database')");
  test->query("SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'server')");
  auto victim = connect(server.uri());
  const int pid = std::stoi(victim->value("SELECT pg_backend_pid()"));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // The postmaster ends every other backend too before it reinitialises: wait for that, so that
  // the next connection is made after the restart.
  EXPECT_TRUE(test_support::eventually([&] { return !test->error_of("SELECT 1").empty(); }));
  std::unique_ptr<Connection> after;
  for (int i = 0; i < 100; i++) {
    after = std::make_unique<Connection>(server.uri());
    if (after->ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(after->ok()) << after->error();
  // The harness's servers commit asynchronously: the crash may have taken CREATE EXTENSION along.
  after->query("CREATE EXTENSION IF NOT EXISTS pg_unit_tests");
  EXPECT_TRUE(is_real(after->value("SELECT now()")));
  EXPECT_EQ(after->value("SELECT count(*) FROM unit_tests.clocks"), "0");
  after->query("SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database')");
  EXPECT_EQ(connect(server.uri())->value("SELECT now()::text"), "2020-02-02 02:02:02+00");
}

// Parallel workers read the database clock as their leader does.
TEST(SharedClock, ParallelWorkersSeeTheDatabaseClock) {
  Server server = start();
  auto test = connect(server.uri());
  auto c = connect(server.uri());
  c->query("CREATE TABLE big AS SELECT g FROM generate_series(1, 50000) g");
  c->query("ANALYZE big");
  c->query("SET max_parallel_workers_per_gather = 2");
  c->query("SET parallel_setup_cost = 0");
  c->query("SET parallel_tuple_cost = 0");
  c->query("SET min_parallel_table_scan_size = 0");
  test->query("SELECT unit_tests.freeze('2011-11-11 11:11:11+00', scope => 'database')");
  const std::string count =
      "SELECT count(*) FILTER (WHERE now() = '2011-11-11 11:11:11+00' AND "
      "clock_timestamp() = '2011-11-11 11:11:11+00' AND CURRENT_DATE = '2011-11-11') FROM big";
  EXPECT_EQ(c->value(count), "50000");
  bool launched = false;
  for (const auto& line :
       c->query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + count))
    if (line[0].find("Workers Launched") != std::string::npos) launched = true;
  EXPECT_TRUE(launched);
}

// advance() of a shared clock is a read-modify-write that other sessions race with: two sessions
// that advance the database clock together must add up (each used to read the clock, then write
// its own sum: the other's advance in between was lost). Both start at once behind an advisory
// lock the test holds, then each runs 20000 advances in one statement; the verdict counts
// advances, it does not depend on how the two interleave.
TEST(SharedClock, ConcurrentAdvancesOfTheDatabaseClockAddUp) {
  Server server = start();
  auto test = connect(server.uri());
  test->query("SELECT unit_tests.freeze('2020-01-01 00:00:00+00', scope => 'database')");
  test->query("SELECT pg_advisory_lock(7)");
  std::vector<std::unique_ptr<Connection>> racers;
  std::vector<std::string> pids;
  for (int i = 0; i < 2; i++) {
    racers.push_back(connect(server.uri()));
    pids.push_back(racers.back()->value("SELECT pg_backend_pid()"));
    ASSERT_EQ(PQsendQuery(racers.back()->get(),
                          "SELECT pg_advisory_lock_shared(7); "
                          "SELECT count(unit_tests.advance('1 millisecond', scope => 'database')) "
                          "FROM generate_series(1, 20000)"),
              1);
  }
  EXPECT_TRUE(test_support::eventually([&] {
    return test->value(
               "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
               "AND pid IN (" +
               pids[0] + ", " + pids[1] + ")") == "2";
  }));
  test->query("SELECT pg_advisory_unlock(7)");
  for (auto& racer : racers) {
    std::string last;
    while (PGresult* r = PQgetResult(racer->get())) {
      EXPECT_NE(PQresultStatus(r), PGRES_FATAL_ERROR) << PQresultErrorMessage(r);
      if (PQresultStatus(r) == PGRES_TUPLES_OK) last = PQgetvalue(r, 0, 0);
      PQclear(r);
    }
    EXPECT_EQ(last, "20000");
  }
  // 40000 milliseconds.
  EXPECT_EQ(test->value("SELECT now()"), "2020-01-01 00:00:40+00");
}

// A dropped database's clock is forgotten: it is no longer listed, and a database created later
// with the same OID (OIDs wrap around; CREATE DATABASE ... OID makes it certain here) starts on
// real time.
TEST(SharedClock, ADroppedDatabasesClockIsForgotten) {
  Server server = start();
  auto test = connect(server.uri());
  test->query("CREATE DATABASE doomed OID = 65000");
  auto doomed = connect(pg_unit_tests::with_database(server.uri(), "doomed"));
  test->query(
      "SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database', database => "
      "'doomed')");
  EXPECT_EQ(doomed->value("SELECT now()"), "2020-02-02 02:02:02+00");
  doomed.reset();
  // A DROP DATABASE that fails after its drop hook ran (a template database) keeps the clock.
  test->query("ALTER DATABASE doomed IS_TEMPLATE true");
  EXPECT_NE(test->error_of("DROP DATABASE doomed"), "");
  EXPECT_EQ(test->value("SELECT count(*) FROM unit_tests.clocks WHERE kind = 'database'"), "1");
  test->query("ALTER DATABASE doomed IS_TEMPLATE false");
  // (The session above may still be ending.)
  EXPECT_TRUE(
      test_support::eventually([&] { return test->error_of("DROP DATABASE doomed").empty(); }));
  EXPECT_EQ(test->value("SELECT count(*) FROM unit_tests.clocks WHERE kind = 'database'"), "0");
  test->query("CREATE DATABASE reborn OID = 65000");
  EXPECT_TRUE(is_real(
      connect(pg_unit_tests::with_database(server.uri(), "reborn"))->value("SELECT now()")));
}
