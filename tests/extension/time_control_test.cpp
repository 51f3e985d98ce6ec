// Time control across sessions and protocols, against servers the harness starts: what a single
// psql session (the pg_regress suite) cannot show.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <memory>
#include <string>
#include <thread>

#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"

using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::Connection;

namespace {

constexpr const char* kFrozen = "2011-11-11 11:11:11+00";
constexpr Oid TIMESTAMPTZOID_FOR_TEST = 1184;  // timestamptz (the catalog headers are the server's)

// A server with the extension preloaded and time control on (the harness's default), and the
// extension created.
Server start(ServerOptions options = {}) {
  options.create.push_back("pg_unit_tests");
  return Server::start(options);
}

Connection connect(const Server& server) {
  Connection c(server.uri());
  EXPECT_TRUE(c.ok()) << c.error();
  c.query("SET timezone = 'UTC'");
  c.query("SET datestyle = 'ISO, YMD'");
  return c;
}

bool is_real(const std::string& timestamp) {
  return timestamp > "2025";
}

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Result checked(PGconn* conn, PGresult* raw) {
  Result r(raw, &PQclear);
  auto status = PQresultStatus(r.get());
  EXPECT_TRUE(status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) << PQerrorMessage(conn);
  return r;
}

}  // namespace

TEST(TimeControl, OtherSessionsKeepRealTime) {
  Server server = start();
  Connection frozen = connect(server);
  Connection other = connect(server);
  frozen.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  EXPECT_EQ(frozen.value("SELECT now()"), kFrozen);
  EXPECT_TRUE(is_real(other.value("SELECT now()")));
  EXPECT_TRUE(is_real(other.value("SELECT clock_timestamp()")));
  EXPECT_EQ(other.value("SELECT mode FROM unit_tests.time_status()"), "real");
  EXPECT_EQ(frozen.value("SELECT clock_timestamp()"), kFrozen);
}

TEST(TimeControl, ServerSideViewsOfAFrozenSessionStayReal) {
  Server server = start();
  Connection frozen = connect(server);
  Connection observer = connect(server);
  std::string pid = frozen.value("SELECT pg_backend_pid()");
  frozen.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  frozen.query("BEGIN");
  frozen.query("SELECT now()");
  // pg_stat_activity: transaction and query start times are the real ones.
  auto row = observer.query(
      "SELECT xact_start > '2025-01-01', query_start > '2025-01-01' FROM pg_stat_activity "
      "WHERE pid = " +
      pid);
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0], "t");
  EXPECT_EQ(row[0][1], "t");
  frozen.query("COMMIT");
  // The frozen session sees the same: its own row in pg_stat_activity is real.
  EXPECT_EQ(frozen.value("SELECT backend_start > '2025-01-01' AND query_start > '2025-01-01' "
                         "FROM pg_stat_activity WHERE pid = pg_backend_pid()"),
            "t");
}

TEST(TimeControl, SleepsAndTimeoutsUseRealTime) {
  Server server = start();
  Connection c = connect(server);
  c.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  auto t0 = std::chrono::steady_clock::now();
  c.query("SELECT pg_sleep(0.2)");
  auto slept = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(slept, std::chrono::milliseconds(190));
  EXPECT_LT(slept, std::chrono::seconds(5));
  c.query("SET statement_timeout = '200ms'");
  t0 = std::chrono::steady_clock::now();
  EXPECT_NE(c.error_of("SELECT pg_sleep(10)").find("statement timeout"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(TimeControl, LockWaitsCommitTimestampsAndStatisticsUseRealTime) {
  ServerOptions options;
  options.settings.push_back("track_commit_timestamp=on");
  Server server = start(options);
  Connection frozen = connect(server);
  Connection other = connect(server);
  frozen.query("CREATE TABLE t (id int PRIMARY KEY, v int)");
  frozen.query("INSERT INTO t VALUES (1, 0)");
  frozen.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");

  // The commit timestamp of a frozen session's transaction is the real one.
  frozen.query("UPDATE t SET v = 1");
  EXPECT_TRUE(is_real(frozen.value("SELECT pg_xact_commit_timestamp(xmin) FROM t")));

  // lock_timeout fires after real milliseconds.
  other.query("BEGIN");
  other.query("UPDATE t SET v = 2");
  frozen.query("SET lock_timeout = '200ms'");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(frozen.error_of("UPDATE t SET v = 3").find("lock timeout"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  other.query("ROLLBACK");

  // Statistics record real times.
  frozen.query("ANALYZE t");
  frozen.query("SELECT pg_stat_force_next_flush()");
  frozen.query("SELECT 1");  // the flush happens when the session goes idle
  std::string last_analyze;
  for (int i = 0; i < 50 && last_analyze.empty(); i++) {
    last_analyze = other.value(
        "SELECT coalesce(last_analyze::text, '') FROM pg_stat_user_tables WHERE relname = 't'");
    if (last_analyze.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(is_real(last_analyze)) << last_analyze;
}

TEST(TimeControl, DeadlockDetectionUsesRealTime) {
  Server server = start();
  Connection a = connect(server);
  Connection b = connect(server);
  a.query("CREATE TABLE d (id int PRIMARY KEY)");
  a.query("INSERT INTO d VALUES (1), (2)");
  for (Connection* c : {&a, &b}) {
    c->query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
    c->query("SET deadlock_timeout = '100ms'");
    c->query("BEGIN");
  }
  a.query("SELECT * FROM d WHERE id = 1 FOR UPDATE");
  b.query("SELECT * FROM d WHERE id = 2 FOR UPDATE");
  ASSERT_EQ(PQsendQuery(a.get(), "SELECT * FROM d WHERE id = 2 FOR UPDATE"), 1);
  auto t0 = std::chrono::steady_clock::now();
  std::string b_error = b.error_of("SELECT * FROM d WHERE id = 1 FOR UPDATE");
  std::string a_error;
  while (PGresult* r = PQgetResult(a.get())) {
    if (PQresultStatus(r) == PGRES_FATAL_ERROR) a_error = PQresultErrorMessage(r);
    PQclear(r);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_NE((a_error + b_error).find("deadlock detected"), std::string::npos) << a_error << b_error;
  a.query("ROLLBACK");
  b.query("ROLLBACK");
}

// log_min_duration_statement measures real durations: the real statement start is put back at the
// end of each top-level statement, also after a procedure that commits.
TEST(TimeControl, LoggedDurationsAreReal) {
  Server server = start();
  Connection c = connect(server);
  c.query("CREATE PROCEDURE committing() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$");
  c.query("SET log_min_duration_statement = 0");
  c.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  c.query("SELECT pg_sleep(0.05) AS marker_sleep");
  c.query("CALL committing()");
  c.query("SELECT unit_tests.travel('2040-01-01 00:00:00+00')");
  c.query("SELECT 1 AS marker_travelled");
  std::ifstream log(server.info().directory / "postgres.log");
  ASSERT_TRUE(log.good());
  std::stringstream text;
  text << log.rdbuf();
  const std::regex duration(R"(duration: ([0-9.]+) ms +statement: (.*))");
  int seen = 0;
  std::string line;
  while (std::getline(text, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, duration)) continue;
    const std::string statement = m[2];
    if (statement.find("marker_sleep") != std::string::npos ||
        statement.find("CALL committing") != std::string::npos ||
        statement.find("marker_travelled") != std::string::npos) {
      seen++;
      EXPECT_LT(std::stod(m[1]), 60000.0) << line;
    }
  }
  EXPECT_EQ(seen, 3);
}

TEST(TimeControl, ExtendedProtocol) {
  Server server = start();
  Connection c = connect(server);
  PGconn* conn = c.get();
  // Prepared (Parse) before the freeze, executed (Bind/Execute) in later transactions.
  checked(conn, PQprepare(conn, "clocks",
                          "SELECT now(), statement_timestamp(), clock_timestamp(), "
                          "CURRENT_TIMESTAMP, CURRENT_DATE, $1::timestamptz",
                          1, nullptr));
  c.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  const char* params[] = {kFrozen};
  for (int i = 0; i < 2; i++) {
    Result r = checked(conn, PQexecPrepared(conn, "clocks", 1, params, nullptr, nullptr, 0));
    ASSERT_EQ(PQntuples(r.get()), 1);
    for (int col = 0; col < 4; col++) EXPECT_STREQ(PQgetvalue(r.get(), 0, col), kFrozen) << col;
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 4), "2011-11-11");
  }
  // Parse, Bind and Execute of an unnamed statement with a literal.
  const char* one[] = {"1"};
  Result r = checked(conn, PQexecParams(conn, "SELECT 'now'::timestamptz, now(), $1::int", 1,
                                        nullptr, one, nullptr, nullptr, 0));
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), kFrozen);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 1), kFrozen);
  // Pipeline: several Execute messages in one transaction.
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(PQsendQueryParams(conn, "SELECT statement_timestamp(), clock_timestamp()", 0, nullptr,
                                nullptr, nullptr, nullptr, 0),
              1);
  ASSERT_EQ(PQpipelineSync(conn), 1);
  for (int i = 0; i < 3; i++) {
    Result row(PQgetResult(conn), &PQclear);
    ASSERT_EQ(PQresultStatus(row.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_STREQ(PQgetvalue(row.get(), 0, 0), kFrozen);
    EXPECT_STREQ(PQgetvalue(row.get(), 0, 1), kFrozen);
    Result end(PQgetResult(conn), &PQclear);  // NULL after each query's results
  }
  Result sync(PQgetResult(conn), &PQclear);
  EXPECT_EQ(PQresultStatus(sync.get()), PGRES_PIPELINE_SYNC);
  ASSERT_EQ(PQexitPipelineMode(conn), 1);
  c.query("SELECT unit_tests.unfreeze()");
  Result real = checked(conn, PQexecPrepared(conn, "clocks", 1, params, nullptr, nullptr, 0));
  EXPECT_TRUE(is_real(PQgetvalue(real.get(), 0, 0)));
  EXPECT_TRUE(is_real(PQgetvalue(real.get(), 0, 2)));
}

TEST(TimeControl, ParallelWorkersOfAFrozenSession) {
  Server server = start();
  Connection frozen = connect(server);
  Connection other = connect(server);
  frozen.query("CREATE TABLE big AS SELECT g FROM generate_series(1, 50000) g");
  frozen.query("ANALYZE big");
  for (Connection* c : {&frozen, &other}) {
    c->query("SET max_parallel_workers_per_gather = 2");
    c->query("SET parallel_setup_cost = 0");
    c->query("SET parallel_tuple_cost = 0");
    c->query("SET min_parallel_table_scan_size = 0");
  }
  frozen.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  const std::string count =
      "SELECT count(*) FILTER (WHERE now() = '2011-11-11 11:11:11+00' AND "
      "clock_timestamp() = '2011-11-11 11:11:11+00') FROM big";
  EXPECT_EQ(frozen.value(count), "50000");
  EXPECT_EQ(other.value(count), "0");
  // The workers really ran.
  auto plan = frozen.query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + count);
  bool launched = false;
  for (const auto& line : plan)
    if (line[0].find("Workers Launched") != std::string::npos) launched = true;
  EXPECT_TRUE(launched);
  frozen.query("SELECT unit_tests.travel('2040-01-01 00:00:00+00')");
  EXPECT_EQ(frozen.value("SELECT count(*) FILTER (WHERE clock_timestamp() > '2040-01-01' AND "
                         "clock_timestamp() < '2040-01-02') FROM big"),
            "50000");
}

TEST(TimeControl, FreezeOptionStartsEverySessionFrozen) {
  ServerOptions options;
  options.freeze = "2011-11-11T11:11:11Z";
  Server server = start(options);
  for (int i = 0; i < 2; i++) {
    Connection c = connect(server);
    EXPECT_EQ(c.value("SELECT now()"), kFrozen);
    EXPECT_EQ(c.value("SELECT 'now'::timestamptz"), kFrozen);
    c.query("SELECT unit_tests.unfreeze()");
    EXPECT_TRUE(is_real(c.value("SELECT now()")));
  }
}

TEST(TimeControl, ServerWithoutTimeControl) {
  ServerOptions options;
  options.settings.push_back("pg_unit_tests.time_control=off");
  Server server = start(options);
  Connection c = connect(server);
  const std::string error = c.error_of("SELECT unit_tests.freeze()");
  EXPECT_NE(error.find("time control is not enabled on this server"), std::string::npos) << error;
  EXPECT_NE(error.find("pg_unit_tests.time_control = on"), std::string::npos) << error;
  EXPECT_NE(c.error_of("SET pg_unit_tests.frozen_at = '2000-01-01'").find("not enabled"),
            std::string::npos);
  EXPECT_EQ(c.value("SELECT enabled FROM unit_tests.time_status()"), "f");
  EXPECT_TRUE(is_real(c.value("SELECT now()")));
  // The rest of the extension works.
  EXPECT_EQ(c.value("SELECT unit_tests.shadow_search_path()").rfind("unit_tests, pg_catalog", 0),
            0u);
}

// The clock settings' values and parsed forms are allocated by our check hooks and freed by
// PostgreSQL (16 and later free them in its own memory context): every way a setting's value is
// replaced and dropped, and the backend is still there.
TEST(TimeControl, ClockSettingsAreSetResetAndRolledBack) {
  ServerOptions options;
  options.settings.push_back("pg_unit_tests.time_control=off");
  Server server = start(options);
  Connection c = connect(server);
  for (const char* setting : {"pg_unit_tests.frozen_at", "pg_unit_tests.time_offset"}) {
    const std::string name = setting;
    c.query("SET " + name + " = ''");
    c.query("BEGIN");
    c.query("SET LOCAL " + name + " = ''");
    c.query("SAVEPOINT s");
    c.query("SET " + name + " = ''");
    c.query("ROLLBACK TO SAVEPOINT s");
    c.query("ROLLBACK");
    EXPECT_NE(c.error_of("SET " + name + " = 'garbage'"), "");
    c.query("RESET " + name);
    c.query("SET " + name + " = DEFAULT");
    EXPECT_EQ(c.value("SELECT current_setting('" + name + "')"), "");
  }
  c.query("RESET ALL");
  c.query("DISCARD ALL");
  EXPECT_EQ(c.value("SELECT 1"), "1");
}

TEST(TimeControl, InvalidServerWideFreezeRefusesToStart) {
  for (const char* bad : {"garbage", "infinity", "294277-01-01"}) {
    ServerOptions options;
    options.freeze = bad;
    try {
      Server server = start(options);
      ADD_FAILURE() << "a server started with --freeze " << bad;
    } catch (const pg_unit_tests::Error& e) {
      EXPECT_EQ(e.code(), pg_unit_tests::ExitCode::kServerStart) << e.what();
      EXPECT_NE(std::string(e.what()).find("pg_unit_tests.frozen_at"), std::string::npos)
          << e.what();
    }
  }
}

// 'now' sent as a bind parameter of a statement prepared earlier, in the first message of a
// transaction (no parse analysis runs), reads the mocked clock: the input function is redirected.
TEST(TimeControl, NowAsABindParameterOfAStatementPreparedEarlier) {
  Server server = start();
  Connection c = connect(server);
  PGconn* conn = c.get();
  checked(conn, PQprepare(conn, "cast", "SELECT $1::timestamptz, $2::date", 2, nullptr));
  c.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  const char* params[] = {"now", "tomorrow"};
  Result r = checked(conn, PQexecPrepared(conn, "cast", 2, params, nullptr, nullptr, 0));
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), kFrozen);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 1), "2011-11-12");
  // Typed parameters of an unnamed statement, and a parameter of type text cast at run time.
  const Oid types[] = {TIMESTAMPTZOID_FOR_TEST, 0};
  Result typed = checked(conn, PQexecParams(conn, "SELECT $1, $2::text::timestamptz", 2, types,
                                            params, nullptr, nullptr, 0));
  EXPECT_STREQ(PQgetvalue(typed.get(), 0, 0), kFrozen);
  EXPECT_STREQ(PQgetvalue(typed.get(), 0, 1), "2011-11-12 00:00:00+00");
}

// The fast-path interface (PQfn) calls timestamptz_in('now') without any SQL statement.
TEST(TimeControl, FastPathCallOfTimestamptzIn) {
  Server server = start();
  Connection c = connect(server);
  c.query(std::string("SELECT unit_tests.freeze('") + kFrozen + "')");
  const std::string expected = c.value(
      "SELECT (extract(epoch FROM '2011-11-11 11:11:11+00'::timestamptz - "
      "'2000-01-01 00:00:00+00') * 1000000)::bigint");
  const char now_text[] = "now";
  int typmod = htonl(-1);
  int typioparam = htonl(1184);
  PQArgBlock args[3];
  args[0].len = 3;
  args[0].isint = 0;
  args[0].u.ptr = const_cast<int*>(reinterpret_cast<const int*>(now_text));
  args[1].len = 4;
  args[1].isint = 0;
  args[1].u.ptr = &typioparam;
  args[2].len = 4;
  args[2].isint = 0;
  args[2].u.ptr = &typmod;
  unsigned char out[8] = {};
  int out_len = 0;
  Result r(
      PQfn(c.get(), 1150 /* timestamptz_in */, reinterpret_cast<int*>(out), &out_len, 0, args, 3),
      &PQclear);
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(out_len, 8);
  int64_t micros = 0;
  for (unsigned char byte : out) micros = (micros << 8) | byte;  // network byte order
  EXPECT_EQ(std::to_string(micros), expected);
}

// --freeze now (or today) freezes at the real instant the server starts, not at 2000-01-01.
TEST(TimeControl, FreezeOptionNowResolvesToTheStartOfTheServer) {
  for (const char* word : {"now", "today"}) {
    ServerOptions options;
    options.freeze = word;
    Server server = start(options);
    Connection c = connect(server);
    const std::string first = c.value("SELECT now()");
    EXPECT_TRUE(is_real(first)) << word << ": " << first;
    EXPECT_EQ(c.value("SELECT clock_timestamp()"), first) << word;
    EXPECT_EQ(c.value("SELECT mode FROM unit_tests.time_status()"), "frozen") << word;
    // pg_postmaster_start_time() is the real start of the server.
    const std::string near_start =
        std::string(word) == "now"
            ? "SELECT now() BETWEEN pg_postmaster_start_time() - interval '1 minute' AND "
              "pg_postmaster_start_time()"
            : "SELECT now() <= pg_postmaster_start_time() AND "
              "now() > pg_postmaster_start_time() - interval '1 day 1 hour'";
    EXPECT_EQ(c.value(near_start), "t") << word << ": " << first;
  }
}
