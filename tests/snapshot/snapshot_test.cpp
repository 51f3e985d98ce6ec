// Snapshots, rolled-back blocks and per-test databases across connections and processes, against
// servers the harness starts: what one psql session (the pg_regress suite) cannot show.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"

using pg_unit_tests::Database;
using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::cli;
using test_support::Connection;
using test_support::run;

namespace {

Server start() {
  ServerOptions options;
  options.create.push_back("pg_unit_tests");
  return Server::start(options);
}

void fixture(Connection& c) {
  c.query("CREATE TABLE parent (id int PRIMARY KEY, name text)");
  c.query(
      "CREATE TABLE child (id serial PRIMARY KEY, parent int REFERENCES parent ON DELETE CASCADE)");
  c.query("INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 100) AS g");
  c.query("INSERT INTO child (parent) SELECT 1 + g % 100 FROM generate_series(1, 300) AS g");
}

// Sends a statement without waiting for its result (read it with outcome()).
void send(const Connection& c, const std::string& sql) {
  ASSERT_EQ(PQsendQuery(c.get(), sql.c_str()), 1) << c.error();
}

// The outcome of the statement sent last: its first value, or "ERROR <SQLSTATE>: <message>".
std::string outcome(const Connection& c) {
  std::string out;
  while (PGresult* r = PQgetResult(c.get())) {
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    } else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      out = std::string("ERROR ") + PQresultErrorField(r, PG_DIAG_SQLSTATE) + ": " +
            PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    }
    PQclear(r);
  }
  return out;
}

// Orders sessions without timing: returns once the backends wait for a lock (or fails after a
// minute, which only a broken test reaches).
void wait_until_waiting_for_a_lock(const Connection& observer,
                                   const std::vector<std::string>& pids) {
  std::string list;
  for (const auto& pid : pids) list += (list.empty() ? "" : ", ") + pid;
  const std::string waiting =
      "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid IN (" + list + ")";
  for (int i = 0; i < 60000; ++i) {
    if (observer.value(waiting) == std::to_string(pids.size())) return;
    usleep(1000);
  }
  FAIL() << "sessions " << list << " never waited for a lock";
}

std::string contents(Connection& c) {
  return c.value(
      "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM (SELECT p::text FROM parent AS "
      "p UNION ALL SELECT c::text FROM child AS c UNION ALL SELECT last_value || ' ' || is_called "
      "FROM child_id_seq) AS t");
}

}  // namespace

TEST(DataSnapshot, SurvivesReconnectionAndUndoesOtherSessionsCommits) {
  Server server = start();
  std::string before;
  {
    Connection a(server.uri());
    fixture(a);
    before = contents(a);
    EXPECT_EQ(a.value("SELECT unit_tests.snapshot('s')"), "400");
  }
  // Another session writes and commits, then goes away.
  {
    Connection b(server.uri());
    b.query("DELETE FROM parent WHERE id <= 10");
    b.query("INSERT INTO child (parent) VALUES (50), (51)");
    b.query("UPDATE parent SET name = 'x' WHERE id = 99");
    EXPECT_NE(contents(b), before);
  }
  Connection a(server.uri());
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "2");
  EXPECT_EQ(contents(a), before);
  // A second connection sees the restored state at once (it was committed).
  Connection b(server.uri());
  EXPECT_EQ(contents(b), before);
}

TEST(DataSnapshot, WritesRolledBackInAnotherSessionLeaveTablesClean) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("SELECT unit_tests.snapshot('s')");
  Connection b(server.uri());
  b.query("BEGIN");
  b.query("DELETE FROM child");
  b.query("ROLLBACK");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "0");
  // restore() waits for a writer still in progress (EXCLUSIVE lock on the tables): it never
  // restores under a half-done write. After the session's lock_timeout it gives up, changing
  // nothing.
  b.query("BEGIN");
  b.query("INSERT INTO parent VALUES (1000, 'late')");
  a.query("SET lock_timeout = '50ms'");
  const std::string error = a.error_of("SELECT unit_tests.restore('s')");
  EXPECT_NE(error.find("gave up waiting for a lock after 0.05 s"), std::string::npos) << error;
  b.query("COMMIT");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");
  EXPECT_EQ(a.value("SELECT count(*) FROM parent WHERE id = 1000"), "0");
}

// restore() skips the drift comparison when its session made it already and has seen no catalog
// change since: a change made by another session must still be seen, and so must a large write log
// (a bulk load) start over once restored.
TEST(DataSnapshot, DriftFromAnotherSessionIsSeenAfterARestore) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("SELECT unit_tests.snapshot('s')");
  a.query("DELETE FROM child WHERE id = 1");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");  // checked, remembered
  Connection b(server.uri());
  b.query("ALTER TABLE child ADD COLUMN note text");
  b.query("DELETE FROM child WHERE id = 2");
  EXPECT_NE(a.error_of("SELECT unit_tests.restore('s')")
                .find("the columns of table public.child changed since snapshot \"s\""),
            std::string::npos);
  b.query("ALTER TABLE child DROP COLUMN note");
  b.query("ALTER TABLE parent RENAME TO mother");
  EXPECT_NE(a.error_of("SELECT unit_tests.restore('s')")
                .find("table public.parent was renamed to public.mother"),
            std::string::npos);
  b.query("ALTER TABLE mother RENAME TO parent");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");
  b.query("ALTER TABLE child DISABLE TRIGGER pg_unit_tests_snapshot");
  EXPECT_NE(a.error_of("SELECT unit_tests.restore('s')").find("change-tracking trigger"),
            std::string::npos);
  b.query("ALTER TABLE child ENABLE ALWAYS TRIGGER pg_unit_tests_snapshot");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "0");

  b.query("INSERT INTO child (parent) SELECT 1 FROM generate_series(1, 30000)");
  EXPECT_NE(a.value("SELECT pg_relation_size('unit_tests._snapshot_changes')"), "0");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");
  EXPECT_EQ(a.value("SELECT pg_relation_size('unit_tests._snapshot_changes')"), "0");
  EXPECT_EQ(a.value("SELECT count(*) FROM child"), "300");
}

// A large write log starts over empty once nothing in it is needed, which takes an ACCESS
// EXCLUSIVE lock on it: every tracked write of the database waits for that lock. It is taken when
// the caller's transaction commits, never held while the caller keeps its transaction open or its
// statement running (any role may call restore()).
TEST(DataSnapshot, EmptyingTheWriteLogNeverBlocksOtherWritersDuringTheCallersTransaction) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("CREATE SCHEMA other");
  a.query("CREATE TABLE other.t (i int)");
  a.query("SELECT unit_tests.snapshot('s', ARRAY['public'])");
  a.query("SELECT unit_tests.snapshot('o', ARRAY['other'])");
  const std::string pid = a.value("SELECT pg_backend_pid()");
  const std::string log_locked =
      "SELECT count(*) FROM pg_locks WHERE pid = " + pid +
      " AND relation = 'unit_tests._snapshot_changes'::regclass AND mode = 'AccessExclusiveLock'";
  const std::string log_size = "SELECT pg_relation_size('unit_tests._snapshot_changes') > 1048576";
  Connection writer(server.uri());
  writer.query("SET lock_timeout = '5s'");  // a failure, not a hang, if the log is locked
  Connection observer(server.uri());

  // restore() in an open transaction.
  a.query("INSERT INTO child (parent) SELECT 1 FROM generate_series(1, 30000)");
  EXPECT_EQ(a.value(log_size), "t");
  a.query("BEGIN");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");
  EXPECT_EQ(observer.value(log_locked), "0");
  EXPECT_EQ(writer.error_of("INSERT INTO other.t VALUES (1)"), "");
  EXPECT_EQ(a.value(log_size), "t");
  a.query("COMMIT");
  // The writer's entry was committed: the log is in use, so it stays.
  EXPECT_EQ(a.value(log_size), "t");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('o')"), "1");
  EXPECT_EQ(a.value("SELECT pg_relation_size('unit_tests._snapshot_changes')"), "0");

  // restore() in a statement that then waits (for an advisory lock another session holds).
  a.query("INSERT INTO child (parent) SELECT 1 FROM generate_series(1, 30000)");
  observer.query("SELECT pg_advisory_lock(42)");
  send(a, "SELECT unit_tests.restore('s'), pg_advisory_lock(42)");
  wait_until_waiting_for_a_lock(observer, {pid});
  EXPECT_EQ(observer.value("SELECT count(*) FROM pg_locks WHERE pid = " + pid +
                           " AND relation = 'child'::regclass AND mode = 'ExclusiveLock'"),
            "1");  // restore() has run
  EXPECT_EQ(observer.value(log_locked), "0");
  EXPECT_EQ(writer.error_of("INSERT INTO other.t VALUES (2)"), "");
  writer.query("SELECT unit_tests.restore('o')");  // the writer's own entries, pruned
  observer.query("SELECT pg_advisory_unlock(42)");
  EXPECT_EQ(outcome(a), "1");
  EXPECT_EQ(a.value("SELECT pg_relation_size('unit_tests._snapshot_changes')"), "0");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "0");
  EXPECT_EQ(a.value("SELECT count(*) FROM child"), "300");
}

TEST(DataSnapshot, RestoreInATransactionIsAtomicForOtherSessions) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("SELECT unit_tests.snapshot('s')");
  a.query("DELETE FROM parent");
  Connection b(server.uri());
  a.query("BEGIN");
  a.query("SELECT unit_tests.restore('s')");
  EXPECT_EQ(b.value("SELECT count(*) FROM parent"), "0");  // readers go on, see the old state
  a.query("COMMIT");
  EXPECT_EQ(b.value("SELECT count(*) FROM parent"), "100");
}

// A session idle in a transaction that holds a lock on a snapshot's table: restore() waits a
// bounded time (its lock_timeout argument, else the session's, else 10 s), then fails naming the
// session that holds it: pid, application, state. snapshot() and drop_snapshot() too.
TEST(DataSnapshot, RestoreBehindAnIdleTransactionGivesUpNamingIt) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("SELECT unit_tests.snapshot('s')");
  a.query("DELETE FROM child WHERE id = 1");
  Connection idle(server.uri() + "&application_name=forgotten%20psql");
  const std::string pid = idle.value("SELECT pg_backend_pid()");
  idle.query("BEGIN");
  idle.query("INSERT INTO child (parent) VALUES (1)");  // a write not committed: ROW EXCLUSIVE
  const std::string error = a.error_of("SELECT unit_tests.restore('s', lock_timeout => '100ms')");
  EXPECT_NE(error.find("unit_tests.restore: gave up waiting for a lock after 0.1 s: table public."),
            std::string::npos)
      << error;
  EXPECT_NE(
      error.find("by pid " + pid +
                 " (application \"forgotten psql\", user postgres, state idle in transaction)"),
      std::string::npos)
      << error;
  EXPECT_NE(error.find("pg_terminate_backend(" + pid + ")"), std::string::npos) << error;
  EXPECT_NE(
      a.error_of("SELECT unit_tests.snapshot('t', lock_timeout => '100ms')").find("pid " + pid),
      std::string::npos);
  EXPECT_NE(a.error_of("SELECT unit_tests.drop_snapshot('s', lock_timeout => '100ms')")
                .find("pid " + pid),
            std::string::npos);
  idle.query("ROLLBACK");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");
  EXPECT_EQ(a.value("SELECT count(*) FROM child"), "300");
}

// REPEATABLE READ: restore() takes its locks after the transaction's snapshot, so a writer that
// committed in between is invisible to it. It must not mark that table as synced: it fails with a
// serialization failure, nothing changed, and a later restore repairs the table.
TEST(DataSnapshot, RestoreInRepeatableReadNeverMissesAWriterCommittedBeforeItsLock) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("SELECT unit_tests.snapshot('s')");
  const std::string before = contents(a);
  const std::string pid = a.value("SELECT pg_backend_pid()");
  Connection writer(server.uri());
  int late = 1000;
  for (const char* level : {"REPEATABLE READ", "SERIALIZABLE"}) {
    SCOPED_TRACE(level);
    writer.query("BEGIN");
    writer.query("INSERT INTO parent VALUES (" + std::to_string(late++) + ", 'late')");
    a.query(std::string("BEGIN ISOLATION LEVEL ") + level);
    send(a, "SELECT unit_tests.restore('s')");  // its snapshot is taken, then it waits
    wait_until_waiting_for_a_lock(writer, {pid});
    writer.query("COMMIT");
    EXPECT_NE(
        outcome(a).find("ERROR 40001: unit_tests.restore: table public.parent was written by a "
                        "transaction that committed after this transaction's snapshot was taken"),
        std::string::npos);
    a.query("ROLLBACK");
  }
  EXPECT_EQ(a.value("SELECT count(*) FROM parent WHERE id >= 1000"), "2");
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "1");
  EXPECT_EQ(contents(a), before);
  EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "0");
}

// Without a concurrent writer, restore() is exact in every isolation level (and snapshot() in
// REPEATABLE READ refuses rows committed after its transaction's snapshot).
TEST(DataSnapshot, RestoreAndSnapshotAreExactInEveryIsolationLevel) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  a.query("SELECT unit_tests.snapshot('s')");
  const std::string before = contents(a);
  for (const char* level : {"READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"}) {
    SCOPED_TRACE(level);
    a.query("DELETE FROM child WHERE id % 7 = 0");
    a.query("UPDATE parent SET name = 'x' WHERE id < 5");
    a.query(std::string("BEGIN ISOLATION LEVEL ") + level);
    EXPECT_EQ(a.value("SELECT unit_tests.restore('s')"), "2");
    a.query("COMMIT");
    EXPECT_EQ(contents(a), before);
  }
}

TEST(DataSnapshot, SnapshotInRepeatableReadNeverRecordsRowsOlderThanItsLocks) {
  Server server = start();
  Connection a(server.uri());
  fixture(a);
  const std::string pid = a.value("SELECT pg_backend_pid()");
  Connection writer(server.uri());
  writer.query("BEGIN");
  writer.query("INSERT INTO parent VALUES (1000, 'late')");
  a.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
  send(a, "SELECT unit_tests.snapshot('s')");
  wait_until_waiting_for_a_lock(writer, {pid});
  writer.query("COMMIT");
  EXPECT_NE(
      outcome(a).find("ERROR 40001: unit_tests.snapshot: table public.parent was written by a "
                      "transaction that committed after"),
      std::string::npos);
  a.query("ROLLBACK");
  EXPECT_EQ(a.value("SELECT unit_tests.snapshot('s')"), "401");
}

// Four sessions take a snapshot of the same name at the same moment (all waiting behind one
// writer, then released together): one succeeds, the others get the "already exists" error, not
// a unique violation or a deadlock.
TEST(DataSnapshot, ConcurrentSnapshotsOfOneNameGiveOneSnapshotAndClearErrors) {
  Server server = start();
  Connection setup(server.uri());
  fixture(setup);
  Connection writer(server.uri());
  writer.query("BEGIN");
  writer.query("INSERT INTO child (parent) VALUES (1)");
  std::vector<Connection> sessions;
  std::vector<std::string> pids;
  for (int i = 0; i < 4; ++i) {
    sessions.emplace_back(server.uri());
    pids.push_back(sessions.back().value("SELECT pg_backend_pid()"));
  }
  for (auto& c : sessions) send(c, "SELECT unit_tests.snapshot('same')");
  wait_until_waiting_for_a_lock(writer, pids);
  writer.query("ROLLBACK");
  int taken = 0;
  int refused = 0;
  for (auto& c : sessions) {
    const std::string result = outcome(c);
    if (result == "400") {
      ++taken;
    } else {
      EXPECT_EQ(result, "ERROR 42710: unit_tests.snapshot: snapshot \"same\" already exists");
      ++refused;
    }
  }
  EXPECT_EQ(taken, 1);
  EXPECT_EQ(refused, 3);
  EXPECT_EQ(setup.value("SELECT count(*) FROM unit_tests.snapshots()"), "1");
}

TEST(RolledBack, NothingLeaksToOtherSessions) {
  Server server = start();
  Connection a(server.uri());
  a.query("CREATE TABLE t (i int)");
  EXPECT_EQ(a.value("SELECT ok FROM unit_tests.rolled_back('INSERT INTO t VALUES (1)')"), "t");
  Connection b(server.uri());
  EXPECT_EQ(b.value("SELECT count(*) FROM t"), "0");
}

// run_tap() output read by prove: a failing test whose name holds "# TODO" stays a failure, and a
// name or message holding a line break forges no "ok" line.
TEST(Runner, RunTapOutputIsReadByProveAsItsTestsWent) {
  Server server = start();
  Connection c(server.uri());
  c.query("CREATE SCHEMA t");
  c.query("CREATE FUNCTION t.\"test_1 # TODO later\"() RETURNS boolean LANGUAGE sql RETURN false");
  c.query(
      "CREATE FUNCTION t.\"test_2\nok 2 - forged\"() RETURNS boolean LANGUAGE sql RETURN false");
  c.query(
      "CREATE FUNCTION t.test_3() RETURNS void LANGUAGE plpgsql AS "
      "$$ BEGIN RAISE EXCEPTION E'x\\nok 3 - forged'; END $$");
  c.query("CREATE FUNCTION t.test_4() RETURNS boolean LANGUAGE sql RETURN true");
  std::string tap;
  for (const auto& row : c.query("SELECT * FROM unit_tests.run_tap('t')")) tap += row[0] + "\n";
  char path[] = "/tmp/pgut-tap-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << tap;
  // --exec cat: prove reads the file as a test's output.
  auto r = run({"/usr/bin/prove", "--verbose", "--exec", "cat", path});
  unlink(path);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Failed 3/4 subtests"), std::string::npos) << tap << r.out;
  EXPECT_EQ(r.out.find("TODO passed"), std::string::npos) << r.out;
}

TEST(Database, PerTestDatabaseFromATemplateIsPrivateAndDropped) {
  Server server = start();
  {
    Connection c(server.uri());
    c.query("CREATE DATABASE migrated");
  }
  {
    Connection m(pg_unit_tests::with_database(server.uri(), "migrated"));
    m.query("CREATE TABLE t (i int)");
    m.query("INSERT INTO t VALUES (1), (2)");
  }
  std::string name;
  {
    Database one = Database::create(server.uri(), "migrated");
    Database two = Database::create(server.uri(), "migrated");
    name = one.name();
    EXPECT_NE(one.name(), two.name());
    Connection c1(one.uri());
    Connection c2(two.uri());
    ASSERT_TRUE(c1.ok()) << c1.error();
    c1.query("DELETE FROM t");
    EXPECT_EQ(c2.value("SELECT count(*) FROM t"), "2");
    // c1 is still connected when `one` is destroyed: the drop closes it.
  }
  // Dropped in the background by the server's pool ("migrated" can change, so none is pooled).
  Connection c(server.uri());
  EXPECT_TRUE(test_support::eventually([&] {
    return c.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'pgut_test_%'") == "0";
  }));
  EXPECT_EQ(c.value("SELECT count(*) FROM pg_database WHERE datname = '" + name + "'"), "0");
}

TEST(Database, TemplateInUseIsRefusedNamingTheSession) {
  Server server = start();
  Connection c(server.uri());
  c.query("CREATE DATABASE busy");
  Connection user(pg_unit_tests::with_database(server.uri(), "busy"));
  const std::string pid = user.value("SELECT pg_backend_pid()");
  try {
    Database::create(server.uri(), "busy");
    FAIL() << "expected an error";
  } catch (const pg_unit_tests::Error& e) {
    EXPECT_EQ(e.code(), pg_unit_tests::ExitCode::kDatabase);
    EXPECT_NE(std::string(e.what()).find("pid " + pid), std::string::npos) << e.what();
  }
  EXPECT_THROW(Database::create(server.uri(), "no_such_template"), pg_unit_tests::Error);
}

TEST(DatabaseCli, SnapshotSaveRestoreListDrop) {
  Server server = start();
  const std::string db = pg_unit_tests::with_database(server.uri(), "app");
  {
    Connection c(server.uri());
    c.query("CREATE DATABASE app");
    Connection a(db);
    a.query("CREATE TABLE t (i int)");
    a.query("INSERT INTO t VALUES (1)");
  }
  auto r = run({cli(), "snapshot", "save", "base", "--uri", db});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({cli(), "snapshot", "save", "base", "--uri", db});
  EXPECT_EQ(r.status, 9);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  {
    Connection a(db);
    a.query("DELETE FROM t");
    // Connected: restore refuses, naming this session.
    const std::string pid = a.value("SELECT pg_backend_pid()");
    r = run({cli(), "snapshot", "restore", "base", "--uri", db});
    EXPECT_EQ(r.status, 9);
    EXPECT_NE(r.err.find("pid " + pid), std::string::npos) << r.err;
  }
  r = run({cli(), "snapshot", "restore", "base"}, {{"DATABASE_URL", db}});
  ASSERT_EQ(r.status, 0) << r.err;
  {
    Connection a(db);
    EXPECT_EQ(a.value("SELECT count(*) FROM t"), "1");
  }
  r = run({cli(), "snapshot", "list", "--json", "--uri", db});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"name\": \"base\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"source\": \"app\""), std::string::npos) << r.out;

  // createdb from the snapshot: prints a URI; dropdb removes it.
  r = run({cli(), "createdb", "--template", "base", "--uri", server.uri()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string uri = r.out.substr(0, r.out.find('\n'));
  {
    Connection t(uri);
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ(t.value("SELECT count(*) FROM t"), "1");
  }
  r = run({cli(), "dropdb", uri});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({cli(), "dropdb", uri});
  EXPECT_EQ(r.status, 9);
  // The snapshot cannot change, so the server's pool keeps clones of it ready (4 by default):
  // those are all that is left.
  auto clones = [&] {
    Connection c(server.uri());
    return c.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'pgut_test_%'");
  };
  EXPECT_TRUE(test_support::eventually([&] { return clones() == "4"; })) << clones();

  // The exec form: the command runs on the clone, which is gone afterwards.
  r = run({cli(), "createdb", "--template", "base", "--uri", server.uri(), "--", "sh", "-c",
           "psql -XAtc 'SELECT current_database() LIKE $$pgut_test_%$$, count(*) FROM t'; exit 3"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "t|1\n");
  EXPECT_TRUE(test_support::eventually([&] { return clones() == "4"; })) << clones();

  r = run({cli(), "snapshot", "drop", "base", "--uri", db});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({cli(), "snapshot", "drop", "base", "--uri", db});
  EXPECT_EQ(r.status, 9);
  r = run({cli(), "snapshot", "save", "bad name", "--uri", db});
  EXPECT_EQ(r.status, 2);
  r = run({cli(), "snapshot", "list"}, {{"DATABASE_URL", ""}});
  EXPECT_EQ(r.status, 2);
}

// pg_dump carries the change-tracking triggers of the tables (they are the tables' own objects)
// but not the snapshots (the extension's tables). In a database restored from such a dump the
// triggers must not log every write for snapshots that are not there, and a snapshot taken there
// must work; a copy made from the database as a template keeps its snapshots, and they keep
// working.
TEST(DataSnapshot, TriggersRestoredFromADumpLogNothingAndSnapshotsWorkAgain) {
  Server server = start();
  Connection admin(server.uri());
  admin.query("CREATE DATABASE origin");
  const std::string origin_uri = pg_unit_tests::with_database(server.uri(), "origin");
  auto a = std::make_unique<Connection>(origin_uri);
  a->query("CREATE EXTENSION pg_unit_tests");
  fixture(*a);
  a->query("SELECT unit_tests.snapshot('s')");
  const std::string original = contents(*a);
  const auto installation = pg_unit_tests::Installation::find();
  char dir_template[] = "/tmp/pgut-dump-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dump = std::string(dir_template) + "/db.dump";
  auto out = run({installation.bin("pg_dump").string(), "-Fc", "-f", dump, "-d", origin_uri});
  ASSERT_EQ(out.status, 0) << out.err;
  admin.query("CREATE DATABASE restored");
  const std::string restored_uri = pg_unit_tests::with_database(server.uri(), "restored");
  out = run({installation.bin("pg_restore").string(), "-d", restored_uri, dump});
  std::filesystem::remove_all(dir_template);
  ASSERT_EQ(out.status, 0) << out.err;

  Connection b(restored_uri);
  EXPECT_EQ(b.value("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pg_unit_tests_snapshot%'"),
            "4");
  b.query("INSERT INTO parent VALUES (1000, 'new')");
  b.query("UPDATE child SET parent = 2 WHERE id < 10");
  b.query("TRUNCATE child");
  EXPECT_EQ(b.value("SELECT count(*) FROM unit_tests._snapshot_changes"), "0");
  // A snapshot there tracks the tables again.
  b.query("INSERT INTO child (parent) SELECT 1 + g % 100 FROM generate_series(1, 300) AS g");
  const std::string before = contents(b);
  b.query("SELECT unit_tests.snapshot('s')");
  b.query("DELETE FROM child WHERE id % 3 = 0");
  b.query("UPDATE parent SET name = 'changed'");
  EXPECT_EQ(b.value("SELECT unit_tests.restore('s')"), "2");
  EXPECT_EQ(contents(b), before);
  b.query("SELECT unit_tests.drop_snapshot('s')");
  EXPECT_EQ(b.value("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pg_unit_tests_snapshot%'"),
            "0");

  // A copy made with CREATE DATABASE ... TEMPLATE has the snapshot too, and its triggers track.
  a.reset();
  EXPECT_TRUE(test_support::eventually(
      [&] { return admin.error_of("CREATE DATABASE copied TEMPLATE origin").empty(); }));
  Connection c(pg_unit_tests::with_database(server.uri(), "copied"));
  c.query("DELETE FROM child WHERE id % 2 = 0");
  EXPECT_EQ(c.value("SELECT unit_tests.restore('s')"), "1");
  EXPECT_EQ(contents(c), original);
}
