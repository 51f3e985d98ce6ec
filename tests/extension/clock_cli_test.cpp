// `pg_unit_tests clock`: a test runner in any language moves its application's clock with one
// command, end to end against a server the harness starts.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "pg_unit_tests/clock.hpp"
#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"

using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::Connection;
using test_support::Output;

namespace {

Server start() {
  ServerOptions options;
  options.create.push_back("pg_unit_tests");
  return Server::start(options);
}

Output clock(const std::vector<std::string>& args,
             const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::vector<std::string> argv{test_support::cli(), "clock"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test_support::run(argv, env);
}

std::string now_of(const std::string& uri) {
  Connection c(uri);
  EXPECT_TRUE(c.ok()) << c.error();
  c.query("SET timezone = 'UTC'");
  return c.value("SELECT now()");
}

}  // namespace

TEST(ClockCli, FreezeAdvanceTravelReleaseTheDatabaseClock) {
  Server server = start();
  Connection app(server.uri());  // a session of the application, open all along
  app.query("SET timezone = 'UTC'");

  Output out = clock({"freeze", "2024-02-29T12:00:00Z", "--uri", server.uri()});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "2024-02-29 12:00:00+00\n");
  EXPECT_EQ(app.value("SELECT now()"), "2024-02-29 12:00:00+00");
  EXPECT_EQ(now_of(server.uri()), "2024-02-29 12:00:00+00");

  out = clock({"advance", "1 month", "--uri", server.uri()});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "2024-03-29 12:00:00+00\n");
  EXPECT_EQ(app.value("SELECT CURRENT_TIMESTAMP"), "2024-03-29 12:00:00+00");

  // The list shows the database clock and the application's session (not its own).
  out = clock({"list", "--json", "--uri", server.uri()});
  ASSERT_EQ(out.status, 0) << out.err;
  auto rows = nlohmann::json::parse(out.out);
  ASSERT_EQ(rows.size(), 2u) << out.out;
  EXPECT_EQ(rows[0]["kind"], "database");
  EXPECT_EQ(rows[0]["frozen_at"], "2024-03-29 12:00:00+00");
  EXPECT_EQ(rows[1]["kind"], "session");
  EXPECT_EQ(rows[1]["pid"], app.value("SELECT pg_backend_pid()"));
  EXPECT_EQ(rows[1]["source"], "database clock");

  out = clock({"travel", "2040-01-01 00:00:00+00", "--uri", server.uri()});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(app.value("SELECT now() BETWEEN '2040-01-01' AND '2040-01-01 00:01'"), "t");

  // DATABASE_URL when --uri is not given (as under `pg_unit_tests exec`).
  out = clock({"release"}, {{"DATABASE_URL", server.uri()}});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "");
  EXPECT_GT(app.value("SELECT now()"), "2025");
}

TEST(ClockCli, AnotherDatabaseAndTheServer) {
  Server server = start();
  Connection admin(server.uri());
  admin.query("CREATE DATABASE app");
  const std::string app_uri = pg_unit_tests::with_database(server.uri(), "app");
  // The app database has no extension: its clock is moved from the URI's database.
  Output out =
      clock({"freeze", "2020-01-01T00:00:00Z", "--uri", server.uri(), "--database", "app"});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(now_of(app_uri), "2020-01-01 00:00:00+00");
  EXPECT_GT(now_of(server.uri()), "2025");
  out = clock({"freeze", "2030-01-01T00:00:00Z", "--uri", server.uri(), "--server"});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(now_of(server.uri()), "2030-01-01 00:00:00+00");
  EXPECT_EQ(now_of(app_uri), "2020-01-01 00:00:00+00");  // the database clock wins
  ASSERT_EQ(clock({"release", "--uri", server.uri(), "--database", "app"}).status, 0);
  EXPECT_EQ(now_of(app_uri), "2030-01-01 00:00:00+00");
  ASSERT_EQ(clock({"release", "--uri", server.uri(), "--server"}).status, 0);
  EXPECT_GT(now_of(app_uri), "2025");

  // The same through the C++ API.
  pg_unit_tests::clock::Target app{"app", false};
  EXPECT_EQ(pg_unit_tests::clock::freeze(server.uri(), "2021-06-01 00:00:00+00", app),
            "2021-06-01 00:00:00+00");
  EXPECT_EQ(pg_unit_tests::clock::advance(server.uri(), "1 day", app), "2021-06-02 00:00:00+00");
  EXPECT_EQ(now_of(app_uri), "2021-06-02 00:00:00+00");
  pg_unit_tests::clock::release(server.uri(), app);
  EXPECT_GT(now_of(app_uri), "2025");
}

TEST(ClockCli, BadInputGetsOneLineAndAnExitCode) {
  Server server = start();
  Connection admin(server.uri());
  admin.query("CREATE DATABASE bare");
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  const std::string uri = server.uri();
  const std::vector<Case> cases = {
      {{"freeze", "garbage", "--uri", uri}, 9, "invalid input syntax for type timestamp"},
      {{"advance", "1 day", "--uri", uri}, 9, "the database's clock is not set"},
      {{"freeze", "--uri", uri, "--database", "nope"}, 9, "database \"nope\" does not exist"},
      {{"freeze", "--uri", pg_unit_tests::with_database(uri, "bare")},
       9,
       "extension pg_unit_tests is not installed in database \"bare\""},
      // The server is there, the URI's database is not: the server refused, in its words.
      {{"freeze", "--uri", pg_unit_tests::with_database(uri, "nosuch")},
       9,
       "the server refused the connection: database \"nosuch\" does not exist"},
      {{"freeze", "--uri", "postgresql://postgres@/postgres?host=/nonexistent"},
       7,
       "cannot connect"},
      {{"freeze", "--uri", uri, "--database", "bare", "--server"}, 2, "excludes"},
      {{"travel", "--uri", uri},
       2,
       "clock travel needs a TIMESTAMP: pg_unit_tests clock travel 2024"},
      {{"advance", "--uri", uri}, 2, "clock advance needs an INTERVAL"},
      {{"release"}, 2, "DATABASE_URL"},
  };
  for (const auto& c : cases) {
    Output out = clock(c.args, {{"DATABASE_URL", ""}});
    EXPECT_EQ(out.status, c.status) << c.args[0] << ": " << out.err;
    EXPECT_NE(out.err.find(c.says), std::string::npos) << out.err;
    EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 1) << out.err;
  }
  // Nothing was set on the way.
  EXPECT_EQ(admin.value("SELECT count(*) FROM unit_tests.clocks"), "0");
}

// 'today', a timestamp without an offset and an interval's days are read in the TimeZone the
// database's sessions have (here the database's own setting, 14 hours ahead of UTC), as the
// application would read them; the new instant is printed in UTC.
TEST(ClockCli, TodayAndLocalTimesAreTheDatabasesTimeZone) {
  Server server = start();
  Connection admin(server.uri());
  admin.query("CREATE DATABASE kiritimati");
  admin.query("ALTER DATABASE kiritimati SET timezone = 'Pacific/Kiritimati'");
  const std::string uri = server.uri();
  const std::string app_uri = pg_unit_tests::with_database(uri, "kiritimati");
  Connection app(app_uri);
  Output out = clock({"freeze", "today", "--uri", uri, "--database", "kiritimati"});
  ASSERT_EQ(out.status, 0) << out.err;  // read in the URI's database: UTC
  EXPECT_EQ(app.value("SELECT to_char(now(), 'HH24:MI:SS TZH')"), "14:00:00 +14");

  app.query("CREATE EXTENSION pg_unit_tests");
  out = clock({"freeze", "today", "--uri", app_uri});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(app.value("SELECT to_char(now(), 'HH24:MI:SS TZH')"), "00:00:00 +14");
  EXPECT_EQ(out.out.substr(10), " 10:00:00+00\n") << out.out;
  out = clock({"freeze", "2024-03-01 09:00", "--uri", app_uri});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "2024-02-29 19:00:00+00\n");
  // PGTZ, libpq's own variable, chooses another zone.
  out = clock({"freeze", "2024-03-01 09:00", "--uri", app_uri}, {{"PGTZ", "UTC"}});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "2024-03-01 09:00:00+00\n");
}
