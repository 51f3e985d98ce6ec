// Per-test databases from a server's pool (createdb, Database), and the connection details a test
// runner gets (start --env, jdbc_url, exec --databases), end to end against real servers.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/errors.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using pg_unit_tests::Database;
using pg_unit_tests::DatabaseOptions;
using pg_unit_tests::Server;
using test_support::cli;
using test_support::Connection;
using test_support::eventually;
using test_support::run;
using test_support::trim;

namespace {

// The server's status as `list --json` shows it.
nlohmann::json listed(const std::string& uri) {
  for (const auto& s : nlohmann::json::parse(run({cli(), "list", "--json"}).out)) {
    if (s.value("uri", "") == uri) return s;
  }
  return {};
}

std::string count_clones(Connection& c) {
  return c.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'pgut\\_test\\_%'");
}

// The server's database pool: the keeper's child, started with the server's directory.
int pool_pid_of(const Server& server) {
  for (pid_t pid : test_support::processes_matching("pg_unit_tests-pool")) {
    if (test_support::command_line(pid).find(server.info().directory.string()) !=
        std::string::npos) {
      return pid;
    }
  }
  return 0;
}

}  // namespace

TEST(DatabasePool, SixteenThreadsGetDistinctWorkingDatabases) {
  Server server = Server::start();
  {
    // The default template is the server's database as it is at the first createdb.
    Connection c(server.uri());
    c.query("CREATE TABLE migrated (id int); INSERT INTO migrated VALUES (7)");
  }
  std::mutex m;
  std::set<std::string> names;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      try {
        Database db = Database::create(server.uri());
        Connection c(db.uri());
        if (!c.ok()) throw std::runtime_error(c.error());
        c.query("INSERT INTO migrated VALUES (" + std::to_string(i) + ")");
        const std::string seen =
            c.value("SELECT string_agg(id::text, ',' ORDER BY id) FROM migrated");
        const std::string expected = i < 7 ? std::to_string(i) + ",7" : "7," + std::to_string(i);
        if (seen != expected) {
          throw std::runtime_error(db.name() + " holds " + seen);
        }
        const std::lock_guard lock(m);
        if (!db.from_pool()) failures.push_back(db.name() + " did not come from the pool");
        names.insert(db.name());
      } catch (const std::exception& e) {
        const std::lock_guard lock(m);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(names.size(), 16u);
  // Each was dropped by its Database: only the pool's ready clones remain, eventually.
  Connection c(server.uri());
  EXPECT_TRUE(eventually([&] { return listed(server.uri())["databases"].empty(); }));
  EXPECT_TRUE(eventually([&] {
    return std::stoi(count_clones(c)) <= 4;  // the pool's own (4 by default), nothing leaked
  }));
}

TEST(DatabasePool, CacheClearAndServerStopLeakNothing) {
  Server server = Server::start();
  Database first = Database::create(server.uri());
  ASSERT_TRUE(first.from_pool());
  Connection c(server.uri());
  // The pool fills up to its size (4) besides the one handed out.
  ASSERT_TRUE(eventually([&] { return count_clones(c) == "5"; })) << count_clones(c);
  const int pool = pool_pid_of(server);
  ASSERT_GT(pool, 0);
  auto r = run({cli(), "cache", "clear"});
  EXPECT_EQ(r.status, 0) << r.err;
  // The pool is the server's, not the cache's: still serving, and nothing more made than taken.
  Database second = Database::create(server.uri());
  Connection s(second.uri());
  EXPECT_TRUE(s.ok()) << s.error();
  EXPECT_TRUE(eventually([&] { return count_clones(c) == "6"; })) << count_clones(c);
  second.drop();
  EXPECT_TRUE(eventually([&] { return count_clones(c) == "5"; })) << count_clones(c);
  // Stopped with clones pooled, handed out and being dropped: the pool's process and every file go.
  const fs::path dir = server.info().directory;
  Database third = Database::create(server.uri());
  third.release();
  server.stop();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(eventually(
      [&] { return test_support::command_line(pool).find(dir.string()) == std::string::npos; }));
  // The server's Database objects outlive it harmlessly.
  EXPECT_NO_THROW(first.drop());
}

TEST(DatabasePool, DatabaseOfADeadOwnerIsDropped) {
  Server server = Server::start();
  auto owner = test_support::spawn({"/bin/sleep", "60"});
  auto r = run({cli(), "createdb", "--uri", server.uri(), "--owner", std::to_string(owner.pid),
                "--label", "test_orders"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string uri = trim(r.out);
  Connection db(uri);
  ASSERT_TRUE(db.ok()) << db.error();
  // Name, owner and label are listed.
  const auto databases = listed(server.uri())["databases"];
  ASSERT_EQ(databases.size(), 1u) << databases.dump();
  EXPECT_EQ(databases[0]["owner_pid"], owner.pid);
  EXPECT_EQ(databases[0]["label"], "test_orders");
  const std::string name = databases[0]["name"];
  EXPECT_NE(uri.find(name), std::string::npos);
  r = run({cli(), "list"});
  EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("until process " + std::to_string(owner.pid) + " ends"), std::string::npos)
      << r.out;
  kill(owner.pid, SIGKILL);
  test_support::wait_exit(owner.pid);
  close(owner.out_fd);
  Connection c(server.uri());
  EXPECT_TRUE(eventually([&] {
    return c.value("SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") == "0";
  }));
  EXPECT_TRUE(listed(server.uri())["databases"].empty());
  // An owner that is not running is said so, and nothing is handed out.
  r = run({cli(), "createdb", "--uri", server.uri(), "--owner", std::to_string(owner.pid)});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("is not running"), std::string::npos) << r.err;
}

TEST(DatabasePool, CreatedbAndDropdbThroughTheCli) {
  auto r = run({cli(), "start", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string server = nlohmann::json::parse(r.out)["uri"];
  r = run({cli(), "createdb", "--uri", server});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string uri = trim(r.out);
  {
    Connection db(uri);
    ASSERT_TRUE(db.ok()) << db.error();
    EXPECT_EQ(db.value("SELECT current_database() LIKE 'pgut_test_%'"), "t");
  }
  // Outlives the createdb process (no owner) until dropdb, which returns before the drop is done.
  EXPECT_EQ(listed(server)["databases"].size(), 1u);
  r = run({cli(), "dropdb", uri});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(listed(server)["databases"].empty());
  EXPECT_TRUE(eventually([&] { return !Connection(uri).ok(); }));
  // A database that can change under the pool (one you connect to) is cloned at the request, and
  // one in use says who uses it.
  Connection c(server);
  c.query("CREATE DATABASE app");
  {
    Connection app(pg_unit_tests::with_database(server, "app"));
    r = run({cli(), "createdb", "--uri", server, "--template", "app"});
    EXPECT_EQ(r.status, 9) << r.err;
    EXPECT_NE(r.err.find("other session is connected to database \"app\""), std::string::npos)
        << r.err;
  }
  r = run({cli(), "createdb", "--uri", server, "--template", "app"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({cli(), "createdb", "--uri", server, "--template", "nosuch"});
  EXPECT_EQ(r.status, 9) << r.err;
  EXPECT_NE(r.err.find("no database or snapshot 'nosuch'"), std::string::npos) << r.err;
  EXPECT_EQ(run({cli(), "stop", server}).status, 0);
}

TEST(DatabasePool, ASnapshotSavedAnewIsNotServedStale) {
  Server server = Server::start();
  Connection c(server.uri());
  c.query("CREATE DATABASE app");
  const std::string app = pg_unit_tests::with_database(server.uri(), "app");
  {
    Connection a(app);
    a.query("CREATE TABLE v (x int); INSERT INTO v VALUES (1)");
  }
  pg_unit_tests::snapshot::save(app, "fixture");
  DatabaseOptions o;
  o.template_name = "fixture";
  {
    Database d = Database::create(server.uri(), o);
    EXPECT_EQ(Connection(d.uri()).value("SELECT x FROM v"), "1");
  }
  ASSERT_TRUE(eventually([&] { return listed(server.uri())["databases"].empty(); }));
  {
    Connection a(app);
    a.query("UPDATE v SET x = 2");
  }
  pg_unit_tests::snapshot::drop(server.uri(), "fixture");
  pg_unit_tests::snapshot::save(app, "fixture");
  Database d = Database::create(server.uri(), o);
  EXPECT_EQ(Connection(d.uri()).value("SELECT x FROM v"), "2");
}

TEST(ConnectionDetails, StartEnvIsWhatExecSets) {
  auto r = run({cli(), "start", "--env", "--tcp"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string exports = r.out;
  for (const char* name :
       {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "DATABASE_URL"}) {
    EXPECT_NE(exports.find(std::string("export ") + name + "='"), std::string::npos) << exports;
  }
  auto sh = run({"/bin/sh", "-c", exports + "psql -XAtc 'select 40+2' && echo \"$DATABASE_URL\""});
  EXPECT_EQ(sh.status, 0) << sh.err;
  EXPECT_EQ(sh.out.substr(0, 3), "42\n") << sh.out;
  const std::string url = trim(sh.out.substr(3));
  EXPECT_EQ(run({cli(), "stop", url}).status, 0);
  // Without --tcp there is no password: exec unsets PGPASSWORD, and so does eval.
  r = run({cli(), "start", "--env"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("unset PGPASSWORD\n"), std::string::npos) << r.out;
  sh = run({"/bin/sh", "-c", r.out + "echo \"$DATABASE_URL\""}, {{"PGPASSWORD", "stale"}});
  EXPECT_EQ(run({cli(), "stop", trim(sh.out)}).status, 0) << sh.out;
}

TEST(ConnectionDetails, StartJsonHasAJdbcUrlWithTcp) {
  auto r = run({cli(), "start", "--json", "--tcp"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["jdbc_url"],
            "jdbc:postgresql://127.0.0.1:" + std::to_string(j["port"].get<int>()) +
                "/postgres?user=postgres&password=" + j["password"].get<std::string>());
  EXPECT_EQ(run({cli(), "stop", j["uri"].get<std::string>()}).status, 0);
  r = run({cli(), "start", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto k = nlohmann::json::parse(r.out);
  EXPECT_EQ(k["jdbc_url"], "");  // JDBC has no Unix sockets
  EXPECT_EQ(run({cli(), "stop", k["uri"].get<std::string>()}).status, 0);
}

TEST(ConnectionDetails, ExecDatabasesExportsOnePerWorker) {
  auto r =
      run({cli(), "exec", "--databases", "3", "--", "/bin/sh", "-c",
           "echo \"$PG_UNIT_TESTS_DATABASES\"; for i in 0 1 2; do eval \"u=\\$DATABASE_URL_$i\"; "
           "psql -XAtc 'select current_database()' \"$u\" || exit 1; done; "
           "psql -XAtc 'select current_database()'"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = r.out.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(r.out.substr(at, nl - at));
  }
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], lines[1] + "," + lines[2] + "," + lines[3]);
  EXPECT_EQ(std::set<std::string>(lines.begin() + 1, lines.begin() + 4).size(), 3u);
  EXPECT_EQ(lines[4], "postgres");  // DATABASE_URL, PGDATABASE: the server's own database
}

TEST(DatabasePool, ServesAServerWhoseDirectoryNeedsQuoting) {
  // The pool reaches its server through the socket directory: any path the harness accepts, an
  // apostrophe or a space in it too (a user's home, "/home/o'brien").
  test_support::ScratchDir scratch;
  const fs::path base = scratch.path / "o'brien's tests";
  fs::create_directory(base);
  chmod(base.c_str(), 0755);
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", base.string()}};
  auto r = run({cli(), "start", "--stock", "-w", "30"}, env);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string server = trim(r.out);
  r = run({cli(), "createdb", "--uri", server}, env);
  EXPECT_EQ(r.status, 0) << r.err;
  Connection db(trim(r.out));
  EXPECT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(run({cli(), "stop", "--all"}, env).status, 0);
}
