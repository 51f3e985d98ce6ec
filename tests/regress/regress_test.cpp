// `pg_unit_tests regress` end to end: the CLI runs fixture suites (tests/fixtures/regress/) on real
// ephemeral servers; verdicts, exit codes, diffs and reports are checked by parsing them. Nothing
// here depends on timing: overlap is proven by the tests themselves (each member of a parallel
// group waits for the other's arrival, so a serial run would fail).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/regress.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using test_support::cli;
using test_support::run;

namespace {

const fs::path kFixtures = PGUT_REGRESS_FIXTURES;

// A copy of a fixture suite in a private temporary directory (results/ and --accept write there).
struct Suite {
  fs::path dir;
  explicit Suite(const std::string& fixture) {
    char tmpl[] = "/tmp/pgut-regress-XXXXXX";
    dir = mkdtemp(tmpl);
    fs::copy(kFixtures / fixture, dir, fs::copy_options::recursive);
  }
  ~Suite() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // Runs `pg_unit_tests regress --inputdir=DIR --outputdir=DIR ARGS...` in DIR, as a user would;
  // $PG_CONFIGS (make test's version matrix) is set to `pg_configs`, unset when that is empty.
  test_support::Output regress(std::vector<std::string> args,
                               const std::string& pg_configs = {}) const {
    std::vector<std::string> argv = {"/bin/sh",
                                     "-c",
                                     "cd \"$0\" && PG_CONFIGS=$1 && shift && "
                                     "if [ -z \"$PG_CONFIGS\" ]; then unset PG_CONFIGS; "
                                     "else export PG_CONFIGS; fi && exec \"$@\"",
                                     dir.string(),
                                     pg_configs,
                                     cli(),
                                     "regress",
                                     "--inputdir=" + dir.string(),
                                     "--outputdir=" + dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  std::string read(const std::string& relative) const {
    std::ifstream in(dir / relative, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool has(const std::string& relative) const { return fs::exists(dir / relative); }
};

nlohmann::json json_report(const Suite& s, std::vector<std::string> args) {
  args.push_back("--json=" + (s.dir / "report.json").string());
  s.regress(args);
  return nlohmann::json::parse(s.read("report.json"));
}

const nlohmann::json& test_named(const nlohmann::json& report, const std::string& name) {
  for (const auto& t : report["tests"]) {
    if (t["name"] == name) return t;
  }
  static const nlohmann::json none;
  ADD_FAILURE() << "no test " << name << " in the report";
  return none;
}

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

}  // namespace

// --- verdicts, exit codes, diffs ---------------------------------------------------------------

TEST(Regress, PassingScheduleWithParallelGroupAlternativesAndIgnore) {
  Suite s("suite");
  auto r = s.regress({"--schedule=" + (s.dir / "schedule").string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("parallel group (2 tests)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failed (ignored)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 of 6 tests passed, 1 failed test(s) ignored."), std::string::npos);
  // \copy with a relative path wrote next to results/, as under pg_regress.
  EXPECT_EQ(s.read("results/plain_copy.txt"), "42\n");
  // An ignored failure still leaves its diff.
  EXPECT_NE(s.read("regression.diffs").find("flaky"), std::string::npos);
}

// The id of the ephemeral server a run names in its first line ("# N tests on ephemeral server
// ID (PostgreSQL ...").
std::string server_id(const std::string& out) {
  const std::string marker = "ephemeral server ";
  const size_t at = out.find(marker);
  if (at == std::string::npos) return {};
  const size_t begin = at + marker.size();
  return out.substr(begin, out.find(' ', begin) - begin);
}

// The keeper tears the server down after the CLI has printed its verdict and exited: waited for
// here by what is left (its processes name the server's directory), never by a delay.
TEST(Regress, TheServerAndItsFilesGoOnceTheRunHasEnded) {
  Suite s("suite");
  auto r = s.regress({"plain"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  const std::string id = server_id(r.out);
  ASSERT_FALSE(id.empty()) << r.out;
  EXPECT_TRUE(test_support::eventually(
      [&] { return test_support::processes_matching("/run/" + id).empty(); }));
  EXPECT_TRUE(test_support::eventually([&] {
    return nlohmann::json::parse(run({cli(), "list", "--json"}).out).dump().find(id) ==
           std::string::npos;
  }));
}

TEST(Regress, AKilledRunLeavesNoServerBehind) {
  Suite s("suite");
  write(s.dir / "sql" / "slow.sql", "SELECT pg_sleep(300);\n");
  write(s.dir / "expected" / "slow.out", "");
  auto bg = test_support::spawn({"/bin/sh", "-c", "cd \"$0\" && unset PG_CONFIGS && exec \"$@\"",
                                 s.dir.string(), cli(), "regress", "--inputdir=" + s.dir.string(),
                                 "--outputdir=" + s.dir.string(), "slow"});
  std::string id;
  for (std::string line; id.empty() && !(line = test_support::read_line(bg.out_fd)).empty();) {
    id = server_id(line);
  }
  ASSERT_FALSE(id.empty());
  kill(bg.pid, SIGKILL);
  test_support::wait_exit(bg.pid);
  close(bg.out_fd);
  // Its owner gone, the keeper stops the server (ending the test's session) and removes it.
  EXPECT_TRUE(test_support::eventually(
      [&] { return test_support::processes_matching("/run/" + id).empty(); }));
}

// The pre-started spare servers of a harness directory (`cache status --json`): their ids.
std::vector<std::string> spare_ids(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> ids;
  const auto status = nlohmann::json::parse(run({cli(), "cache", "status", "--json"}, env).out);
  for (const auto& item : status.at("items")) {
    if (item.at("kind") == "server") {
      ids.push_back(fs::path(item.at("path").get<std::string>()).filename().string());
    }
  }
  return ids;
}

TEST(Regress, KeepWarmLeavesASpareOfItsConfigurationThatTheNextRunClaims) {
  test_support::ScratchDir home;  // nobody else's start may claim the spare
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", home.path.string()}};
  Suite s("suite");
  auto regress = [&] {
    return run({"/bin/sh", "-c", "cd \"$0\" && unset PG_CONFIGS && exec \"$@\"", s.dir.string(),
                cli(), "regress", "--keep-warm", "--inputdir=" + s.dir.string(),
                "--outputdir=" + s.dir.string(), "plain"},
               env);
  };
  auto first = regress();
  ASSERT_EQ(first.status, 0) << first.out << first.err;
  std::vector<std::string> spares;
  ASSERT_TRUE(test_support::eventually([&] { return !(spares = spare_ids(env)).empty(); }))
      << first.out << first.err << run({cli(), "cache", "status"}, env).out;
  ASSERT_EQ(spares.size(), 1u);
  EXPECT_NE(spares.front(), server_id(first.out));
  auto second = regress();
  ASSERT_EQ(second.status, 0) << second.out << second.err;
  EXPECT_EQ(server_id(second.out), spares.front()) << second.out;
  // Its keeper put a replacement in the pool: one spare again, for the run after.
  EXPECT_TRUE(test_support::eventually([&] {
    const auto now = spare_ids(env);
    return now.size() == 1 && now.front() != spares.front();
  }));
}

TEST(Regress, IgnoreAppliesOnlyToLaterLinesOfItsOwnSchedule) {
  // pg_regress 15: an `ignore:` line covers the tests that later lines of the same schedule run;
  // not an earlier run of the test, not another schedule, not a test named on the command line.
  Suite s("suite");
  write(s.dir / "first", "test: flaky\nignore: flaky\ntest: flaky\n");
  write(s.dir / "second", "test: flaky\n");
  auto report = json_report(s, {"--schedule=" + (s.dir / "first").string(),
                                "--schedule=" + (s.dir / "second").string(), "flaky"});
  std::vector<std::string> statuses;
  for (const auto& t : report["tests"]) statuses.push_back(t["status"]);
  EXPECT_EQ(statuses, (std::vector<std::string>{"failed", "ignored", "failed", "failed"}));
  EXPECT_EQ(report["exit_code"], 1);
}

TEST(Regress, AlternativeExpectedFileIsTheOneReported) {
  Suite s("suite");
  auto report = json_report(s, {"--schedule=" + (s.dir / "schedule").string()});
  const auto& alt = test_named(report, "alt");
  EXPECT_EQ(alt["status"], "ok");
  EXPECT_EQ(fs::path(alt["expected"].get<std::string>()).filename(), "alt_1.out");
  EXPECT_EQ(test_named(report, "p1")["parallel"], true);
  EXPECT_EQ(test_named(report, "setup")["parallel"], false);
}

TEST(Regress, AllPassingRemovesRegressionDiffs) {
  Suite s("suite");
  write(s.dir / "regression.diffs", "stale");
  auto r = s.regress({"setup", "plain", "alt"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("All 3 tests passed."), std::string::npos) << r.out;
  EXPECT_FALSE(s.has("regression.diffs"));
  EXPECT_FALSE(s.has("regression.out"));
  EXPECT_TRUE(s.has("results/plain.out"));
}

TEST(Regress, FailingSuiteExitsOneWithUnifiedDiffAndGoesOnAfterMissingExpected) {
  Suite s("failing");
  auto r = s.regress({"first", "differs", "noexpected", "last"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  const std::string diffs = s.read("regression.diffs");
  // pg_regress's format: a "diff -U3 EXPECTED RESULT" line, then the unified diff.
  EXPECT_NE(diffs.find("diff -U3 " + (s.dir / "expected/differs.out").string() + " " +
                       (s.dir / "results/differs.out").string() + "\n"),
            std::string::npos)
      << diffs;
  EXPECT_NE(diffs.find("\n- expected output\n+ actual output\n"), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("+ no expected file for me"), std::string::npos) << diffs;
  // The head of the diff is shown inline, and the missing file is named.
  EXPECT_NE(r.out.find("+ actual output"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no expected output " + (s.dir / "expected/noexpected.out").string()),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2 of 4 tests failed."), std::string::npos) << r.out;
  EXPECT_NE(s.read("regression.out").find("FAILED"), std::string::npos);
  // The test after the missing expected file ran and passed.
  EXPECT_NE(r.out.find("test last                         ... ok"), std::string::npos) << r.out;
}

TEST(Regress, DiffOptionsFromTheEnvironment) {
  Suite s("failing");
  auto r = run({cli(), "regress", "--inputdir=" + s.dir.string(), "--outputdir=" + s.dir.string(),
                "differs"},
               {{"PG_REGRESS_DIFF_OPTS", "-U1"}});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(s.read("regression.diffs").rfind("diff -U1 ", 0), 0u) << s.read("regression.diffs");
}

TEST(Regress, AcceptWritesExpectedFilesAndTheNextRunPasses) {
  Suite s("failing");
  auto r = s.regress({"--accept", "differs", "noexpected"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("accepted"), std::string::npos);
  EXPECT_EQ(s.read("expected/differs.out"), s.read("results/differs.out"));
  EXPECT_EQ(s.read("expected/noexpected.out"), s.read("results/noexpected.out"));
  EXPECT_EQ(s.regress({"differs", "noexpected"}).status, 0);
}

// --- reports -------------------------------------------------------------------------------------

TEST(Regress, TapIsParseable) {
  Suite s("failing");
  auto r = s.regress({"--tap", "first", "differs", "last"});
  EXPECT_EQ(r.status, 1);
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "TAP version 13");
  int ok = 0, not_ok = 0, plan = -1, number = 0;
  while (std::getline(in, line)) {
    if (line.rfind("ok ", 0) == 0 || line.rfind("not ok ", 0) == 0) {
      const bool passed = line[0] == 'o';
      ++(passed ? ok : not_ok);
      const size_t at = passed ? 3 : 7;
      EXPECT_EQ(std::stoi(line.substr(at)), ++number) << line;
    } else if (line.rfind("1..", 0) == 0) {
      plan = std::stoi(line.substr(3));
    } else {
      // Everything else is a comment or an indented YAML block.
      EXPECT_TRUE(line.empty() || line[0] == '#' || line[0] == ' ') << line;
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(not_ok, 1);
  EXPECT_EQ(plan, 3);
  EXPECT_NE(r.out.find("not ok 2 - differs\n  ---\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    + actual output\n"), std::string::npos) << r.out;
}

TEST(Regress, IgnoredFailuresAreTodoInTapAndSkippedInJunit) {
  Suite s("suite");
  const fs::path xml = s.dir / "junit.xml";
  auto r = s.regress(
      {"--tap", "--junit=" + xml.string(), "--schedule=" + (s.dir / "schedule").string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("not ok 6 - flaky # TODO"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n1..6\n"), std::string::npos) << r.out;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(xml.c_str()));
  auto suite = doc.child("testsuites").child("testsuite");
  EXPECT_EQ(suite.attribute("failures").as_int(), 0);
  EXPECT_EQ(suite.attribute("skipped").as_int(), 1);
  EXPECT_TRUE(suite.find_child_by_attribute("testcase", "name", "flaky").child("skipped"));
}

TEST(Regress, JunitIsParseable) {
  Suite s("failing");
  const fs::path xml = s.dir / "junit.xml";
  auto r = s.regress({"--junit=" + xml.string(), "first", "differs", "noexpected"});
  EXPECT_EQ(r.status, 1);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(xml.c_str())) << s.read("junit.xml");
  auto suite = doc.child("testsuites").child("testsuite");
  EXPECT_EQ(suite.attribute("tests").as_int(), 3);
  EXPECT_EQ(suite.attribute("failures").as_int(), 2);
  int failures = 0;
  for (auto tc : suite.children("testcase")) {
    if (auto f = tc.child("failure")) {
      ++failures;
      if (std::string(tc.attribute("name").value()) == "differs") {
        EXPECT_NE(std::string(f.text().get()).find("+ actual output"), std::string::npos);
      }
    }
  }
  EXPECT_EQ(failures, 2);
}

TEST(Regress, JsonIsParseable) {
  Suite s("failing");
  auto report = json_report(s, {"first", "differs"});
  EXPECT_EQ(report["failed"], 1);
  EXPECT_EQ(report["passed"], 1);
  EXPECT_EQ(report["exit_code"], 1);
  EXPECT_EQ(test_named(report, "differs")["status"], "failed");
  EXPECT_EQ(test_named(report, "first")["database"], "regression");
}

TEST(Regress, NonUtf8AndHugeOutputsGiveValidReports) {
  Suite s("garbage");
  const fs::path xml = s.dir / "junit.xml";
  auto report = json_report(s, {"--junit=" + xml.string(), "latin1", "huge"});
  EXPECT_EQ(report["failed"], 2);
  EXPECT_EQ(test_named(report, "huge")["diff_truncated"], true);
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_file(xml.c_str()));
  EXPECT_GT(fs::file_size(s.dir / "regression.diffs"), 5'000'000u);
}

// --- servers, databases, time -------------------------------------------------------------------

TEST(Regress, JobsRunIndependentTestsConcurrentlyInTheirOwnDatabases) {
  Suite s("jobs");
  // j1 and j2 each wait for the other (see their sql): they pass only if they overlap. Both see the
  // table the schedule created in the database they were cloned from.
  auto report =
      json_report(s, {"--schedule=" + (s.dir / "schedule").string(), "--jobs=2", "j1", "j2"});
  EXPECT_EQ(report["exit_code"], 0) << report.dump(2);
  const std::string d1 = test_named(report, "j1")["database"];
  const std::string d2 = test_named(report, "j2")["database"];
  EXPECT_NE(d1, d2);
  EXPECT_EQ(test_named(report, "setup_template")["database"], "regression");
}

TEST(Regress, IsolateRunsEveryTestInAFreshClone) {
  Suite s("jobs");
  // setup_template runs in the prepared database first; with --isolate every test gets its own
  // clone, j1 and j2 included (and they still overlap with --jobs 2).
  auto report = json_report(
      s, {"--schedule=" + (s.dir / "schedule").string(), "--isolate", "--jobs=2", "j1", "j2"});
  // setup_template ran in a clone too, so j1 and j2 do not see its table: their output differs.
  EXPECT_EQ(test_named(report, "setup_template")["status"], "ok");
  std::set<std::string> databases;
  for (const auto& t : report["tests"]) databases.insert(t["database"].get<std::string>());
  EXPECT_EQ(databases.size(), 3u);
  EXPECT_EQ(databases.count("regression"), 0u);
}

TEST(Regress, UseExistingRunsOnAServerStartedElsewhere) {
  pg_unit_tests::ServerOptions options;
  auto server = pg_unit_tests::Server::start(options);
  test_support::Connection c(server.info().socket_conninfo());
  ASSERT_TRUE(c.ok()) << c.error();
  c.query("CREATE DATABASE mine");
  Suite s("suite");
  auto r = s.regress(
      {"--use-existing", "--dbname=mine", "--host=" + server.info().socket_directory.string(),
       "--port=" + std::to_string(server.info().port), "--user=postgres", "setup", "alt"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("existing server"), std::string::npos) << r.out;
  test_support::Connection mine(server.info().socket_conninfo("mine"));
  EXPECT_EQ(mine.value("SELECT count(*) FROM arrivals"), "0");
}

TEST(Regress, WithoutUseExistingTheDatabaseIsRecreatedOnAnExistingServer) {
  auto server = pg_unit_tests::Server::start();
  test_support::Connection c(server.info().socket_conninfo());
  c.query("CREATE DATABASE regression");
  test_support::Connection(server.info().socket_conninfo("regression"))
      .query("CREATE TABLE arrivals (x int)");
  Suite s("suite");
  auto r = s.regress({"--host=" + server.info().socket_directory.string(),
                      "--port=" + std::to_string(server.info().port), "--user=postgres", "setup"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;  // setup's CREATE TABLE arrivals succeeded
}

TEST(Regress, FreezeMakesTimePrintingOutputDeterministic) {
  Suite s("freeze");
  EXPECT_EQ(s.regress({"--freeze=2024-02-29 12:34:56+00", "clock"}).status, 0);
  EXPECT_EQ(s.regress({"clock"}).status, 1);  // real time: the expected output cannot match
}

TEST(Regress, PgRegressOptions) {
  Suite s("options");
  // --dbname (two, tests in the first), --create-role (granted on each), --load-extension,
  // --temp-config (postgresql.conf syntax), --encoding with --no-locale, --launcher: options.sql
  // prints what each one did; its expected output is what pg_regress gives with the same options.
  auto r = s.regress({"--dbname=first_db,second_db", "--create-role=regress_role_a,regress_role_b",
                      "--load-extension=citext", "--temp-config=" + (s.dir / "extra.conf").string(),
                      "--encoding=LATIN1", "--no-locale", "--launcher=env PGUT_LAUNCHED=yes",
                      "options"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

// --- PGXS: harness/pgxs/pg_unit_tests.mk ------------------------------------------------------

test_support::Output make_in(const Suite& s, const std::vector<std::string>& targets) {
  // PG_CONFIGS (make test's version matrix, in the environment) empty: the installation alone.
  std::vector<std::string> argv = {
      "/usr/bin/make", "-C",          s.dir.string(),          "-f", "Makefile", "-f",
      PGUT_PGXS_MK,    "PG_CONFIGS=", "PG_UNIT_TESTS=" + cli()};
  argv.insert(argv.end(), targets.begin(), targets.end());
  return run(argv);
}

TEST(Pgxs, MakeCheckRunsRegressThroughTheHarness) {
  Suite s("pgxs_ext");
  auto r = make_in(s, {"check"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("All 1 tests passed."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("creating database \"contrib_regression\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not supported"), std::string::npos) << r.out;  // PGXS's own check
  // The same under its own name, and other targets do not hear about the override.
  EXPECT_EQ(make_in(s, {"pgut-check"}).status, 0);
  auto all = make_in(s, {"all"});
  EXPECT_EQ(all.err.find("overriding recipe"), std::string::npos) << all.err;
}

TEST(Pgxs, MakeCheckFailsWhenATestFails) {
  Suite s("pgxs_ext");
  write(s.dir / "expected/greet.out", "something else\n");
  auto r = make_in(s, {"check", "PGUT_REGRESS_OPTS=--junit=junit.xml"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("FAILED"), std::string::npos) << r.out;
  EXPECT_TRUE(s.has("regression.diffs"));
  EXPECT_TRUE(s.has("junit.xml"));
}

TEST(Pgxs, MakeCheckRunsRegressThenIsolationThenTapWithInstallchecksPrerequisites) {
  Suite s("pgxs_all");
  ASSERT_EQ(chmod(s.dir.c_str(), 0755), 0);  // under root the TAP tests run as postgres
  const std::string sharedir = run({"/usr/bin/env", "pg_config", "--sharedir"}).out;
  const fs::path system_control =
      fs::path(sharedir.substr(0, sharedir.find('\n'))) / "extension/allgreet.control";
  auto r = make_in(s, {"check"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  // In-tree check's order: REGRESS, then ISOLATION, then TAP_TESTS; NO_INSTALLCHECK is no reason
  // to skip anything here.
  const size_t regress = r.out.find("test hello                        ... ok");
  const size_t isolation = r.out.find("test hello_iso                    ... ok");
  const size_t tap = r.out.find("t/001_hello.pl .. ok");
  EXPECT_NE(regress, std::string::npos) << r.out;
  EXPECT_NE(isolation, std::string::npos) << r.out;
  EXPECT_NE(tap, std::string::npos) << r.out;
  EXPECT_LT(regress, isolation);
  EXPECT_LT(isolation, tap);
  // The prerequisites ran with a server to ask, and their `make install` went into the run's
  // private staging, which is gone; nothing reached PostgreSQL's directories.
  const size_t asked = r.out.find("server says max_connections=");
  ASSERT_NE(asked, std::string::npos) << r.out;
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(r.out[asked + 28]))) << r.out;
  EXPECT_NE(r.out.find("make install"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(system_control));
  EXPECT_FALSE(s.has("tmp_install"));
}

TEST(Pgxs, AFailingIsolationSpecFailsMakeCheck) {
  Suite s("pgxs_all");
  ASSERT_EQ(chmod(s.dir.c_str(), 0755), 0);
  write(s.dir / "expected/hello_iso.out", "something else\n");
  auto r = make_in(s, {"check"});
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("test hello_iso                    ... FAILED"), std::string::npos) << r.out;
  EXPECT_TRUE(s.has("output_iso/regression.diffs"));
  EXPECT_EQ(r.out.find("t/001_hello.pl"), std::string::npos) << r.out;  // make stopped there
}

// --- bad input: one line on stderr, exit 2 ------------------------------------------------------

TEST(Regress, BadInputIsOneLineAndExitTwo) {
  Suite s("suite");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--schedule=" + (s.dir / "bad_schedule").string()},
       "syntax error in schedule file \"" + (s.dir / "bad_schedule").string() + "\" line 3"},
      {{"nosuchtest"}, "unknown test \"nosuchtest\""},
      {{"--schedule=" + (s.dir / "missing").string()}, "could not open schedule file"},
      {{"--bindir=/nonexistent", "setup"}, "psql was not found at /nonexistent/psql"},
      {{"--extension=" + std::string(PGUT_FIXTURES) + "/broken_ext", "setup"}, "does not build"},
      {{"--load-extension=no_such_extension", "setup"}, "--load-extension=no_such_extension"},
      {{"--no-such-option"}, "no-such-option"},
      {{"--max-concurrent-tests=1", "--schedule=" + (s.dir / "schedule").string()},
       "too many parallel tests (more than 1) in schedule file \"" + (s.dir / "schedule").string() +
           "\" line 4"},
      {{"--temp-config=" + (s.dir / "nonexistent.conf").string(), "setup"},
       "could not read --temp-config file"},
      {{}, "no tests to run"},
  };
  for (const auto& c : cases) {
    auto r = s.regress(c.args);
    EXPECT_EQ(r.status, 2) << c.message << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // A schedule that names a test without sql/ file: exit 2 with file and line, before any server.
  write(s.dir / "unknown_schedule", "test: setup\ntest: setup nosuch\n");
  auto r = s.regress({"--schedule=" + (s.dir / "unknown_schedule").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

// --- parity with pg_regress's temporary instance
// -------------------------------------------------- The expected files of
// tests/fixtures/regress/parity/ are what pg_regress 15 --temp-instance gave.

TEST(Parity, SettingsATestCanSeeAreThoseOfTheTemporaryInstance) {
  Suite s("parity");
  auto r = s.regress({"settings"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST(Parity, AbsoluteDirectoriesAreCanonical) {
  Suite s("parity");
  // PGXS passes --inputdir=./; a trailing slash or "/./" must not reach PG_ABS_SRCDIR.
  auto r = s.regress(
      {"--inputdir=" + s.dir.string() + "/./", "--outputdir=" + s.dir.string() + "/", "abs_dirs"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST(Parity, TheServerWritesIntoResultsAndTheFilesGoBackToTheCaller) {
  Suite s("parity");
  // Under root the server runs as another user, which must be able to reach the directory (as
  // with pg_regress run as postgres): only results/ itself is lent to it.
  ASSERT_EQ(chmod(s.dir.c_str(), 0755), 0);
  struct stat before;
  ASSERT_EQ(stat(s.dir.c_str(), &before), 0);
  auto r = s.regress({"server_files"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  for (const char* name : {"results", "results/server_files.data", "results/server_files.lo",
                           "results/server_files.out"}) {
    struct stat st;
    ASSERT_EQ(lstat((s.dir / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, getuid()) << name;
    EXPECT_EQ(st.st_gid, getgid()) << name;
  }
  struct stat results;
  ASSERT_EQ(stat((s.dir / "results").c_str(), &results), 0);
  EXPECT_EQ(results.st_mode & 07777, 0755u);
  struct stat after;
  ASSERT_EQ(stat(s.dir.c_str(), &after), 0);
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(after.st_uid, before.st_uid);
}

TEST(Parity, UnderRootASuiteTheServerCannotReachIsNamedAndASymlinkIsNotFollowed) {
  if (getuid() != 0) GTEST_SKIP() << "the server runs as the caller: nothing is lent";
  Suite s("parity");  // mode 0700 (mkdtemp): the server user cannot enter it
  const fs::path elsewhere = s.dir / "elsewhere";
  fs::create_directory(elsewhere);
  fs::create_directory_symlink(elsewhere, s.dir / "results");
  auto r = s.regress({"settings"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;  // psql writes results as root, as before
  EXPECT_NE(r.out.find("note: the server runs as the user pg_unit_tests, which cannot reach " +
                       s.dir.string()),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("note: " + (s.dir / "results").string() + " is not a directory of its own"),
            std::string::npos)
      << r.out;
  struct stat st;
  ASSERT_EQ(stat(elsewhere.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

// --- isolation specs
// ------------------------------------------------------------------------------
// tests/fixtures/regress/isolation/: verdicts and expected files from pg_isolation_regress 15.

TEST(Isolation, SpecsRunWithIsolationtesterWithPgIsolationRegressVerdicts) {
  Suite s("isolation");
  const fs::path xml = s.dir / "junit.xml";
  auto r = s.regress({"--isolation", "--outputdir=" + (s.dir / "output_iso").string(),
                      "--junit=" + xml.string(), "--json=" + (s.dir / "report.json").string(),
                      "lock_wait", "wrong_order"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("creating database \"isolation_regression\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test lock_wait                    ... ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test wrong_order                  ... FAILED"), std::string::npos);
  EXPECT_NE(r.out.find("- 2\n+11"), std::string::npos) << r.out;
  // pg_isolation_regress's layout: results and diffs under --outputdir.
  EXPECT_TRUE(s.has("output_iso/results/lock_wait.out"));
  EXPECT_TRUE(s.has("output_iso/regression.diffs"));
  const auto report = nlohmann::json::parse(s.read("report.json"));
  EXPECT_EQ(report["suite"], "isolation");
  EXPECT_EQ(fs::path(test_named(report, "lock_wait")["input"].get<std::string>()),
            s.dir / "specs/lock_wait.spec");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(xml.c_str()));
  EXPECT_STREQ(doc.child("testsuites").child("testsuite").attribute("name").value(), "isolation");
}

TEST(Isolation, ScheduleDbnameAndUnknownSpec) {
  Suite s("isolation");
  write(s.dir / "isolation_schedule", "test: lock_wait\n");
  auto r = s.regress(
      {"--isolation", "--dbname=iso_db", "--schedule=" + (s.dir / "isolation_schedule").string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("creating database \"iso_db\""), std::string::npos) << r.out;
  r = s.regress({"--isolation", "no_such_spec"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("there is no specs/no_such_spec.spec"), std::string::npos) << r.err;
  r = s.regress({"--isolation", "--isolationtester=/nonexistent/isolationtester", "lock_wait"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("isolationtester was not found at /nonexistent/isolationtester"),
            std::string::npos)
      << r.err;
}

// --- TAP tests ----------------------------------------------------------------------------------

TEST(TapTests, ClustersTheTestsStartServeTheExtensionFromItsBuildOutput) {
  Suite s("tap_ext");
  ASSERT_EQ(chmod(s.dir.c_str(), 0755), 0);  // under root the tests run as postgres
  auto r = s.regress({"--tap-tests", "--extension=" + s.dir.string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("All tests successful."), std::string::npos) << r.out << r.err;
  // Everything the tests made is the caller's again.
  for (const auto& e : fs::recursive_directory_iterator(s.dir / "tmp_check")) {
    struct stat st;
    ASSERT_EQ(lstat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, getuid()) << e.path();
  }
  // Without the extension served, the test's CREATE EXTENSION fails: a failed run, exit 1.
  r = s.regress({"--tap-tests", "t/001_cluster.pl"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
}

TEST(TapTests, NoTestsOrACommandWithoutTapTestsAreUsageErrors) {
  Suite s("suite");
  auto r = s.regress({"--tap-tests"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no TAP tests: " + s.dir.string() + " has no t/*.pl"), std::string::npos)
      << r.err;
  r = s.regress({"setup", "--", "true"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("a command after -- is only run with --tap-tests"), std::string::npos)
      << r.err;
}

TEST(Parity, PsqlRunsInTheCallersDirectoryNotInTheOutputDirectory) {
  // pg_regress never changes directory: `\i data/x.sql` in a test is relative to where it was
  // started (pgTAP's tests rely on it), whatever --outputdir says.
  Suite s("suite");
  const fs::path out = s.dir / "elsewhere";
  auto r = run({"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", s.dir.string(), cli(), "regress",
                "--outputdir=" + out.string(), "relative"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(out / "results/relative.out"));
}

// --- a version matrix: several --pg-config ----------------------------------------------------

namespace {

// Two installations for the matrix tests: one of 15 (whose pg_regress notes a psql that exits
// non-zero, and knows `ignore:`) and one of 16 or later (which fail such a test, and reject
// `ignore:`). Looked for in $PG_CONFIGS (make test's matrix), the default installation, and the
// cache of scripts/build-postgres.sh.
struct Matrix {
  std::string old_pg_config, new_pg_config;  // 15, 16+
  std::string old_version, new_version;      // "15.20", "18.3": the labels
};

std::optional<Matrix> matrix_installations() {
  std::vector<std::string> candidates;
  if (const char* list = std::getenv("PG_CONFIGS")) {
    std::istringstream words(list);
    for (std::string w; words >> w;) candidates.push_back(w);
  }
  candidates.push_back("");
  const char* cache = std::getenv("PGUT_PG_CACHE");
  const char* home = std::getenv("HOME");
  const fs::path dir = cache ? fs::path(cache)
                       : geteuid() == 0
                           ? fs::path("/var/cache/pg_unit_tests/postgres")
                           : fs::path(home ? home : "/") / ".cache/pg_unit_tests/postgres";
  std::error_code ec;
  std::vector<std::string> cached;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (fs::exists(e.path() / ".complete")) cached.push_back((e.path() / "bin/pg_config").string());
  }
  std::sort(cached.begin(), cached.end());
  candidates.insert(candidates.end(), cached.rbegin(), cached.rend());
  Matrix m;
  for (const auto& c : candidates) {
    try {
      const auto inst = pg_unit_tests::Installation::find(c);
      if (inst.major == 15 && m.old_pg_config.empty()) {
        m.old_pg_config = inst.pg_config.string();
        m.old_version = inst.version;
      } else if (inst.major >= 16 && m.new_pg_config.empty()) {
        m.new_pg_config = inst.pg_config.string();
        m.new_version = inst.version;
      }
    } catch (const pg_unit_tests::Error&) {
    }
  }
  if (m.old_pg_config.empty() || m.new_pg_config.empty()) return std::nullopt;
  return m;
}

#define NEED_MATRIX(m)                                                                        \
  const std::optional<Matrix> m = matrix_installations();                                     \
  if (!m) {                                                                                   \
    GTEST_SKIP() << "needs PostgreSQL 15 and 16 or later: list them in PG_CONFIGS, or build " \
                    "one with scripts/build-postgres.sh";                                     \
  }

}  // namespace

TEST(Matrix, TwoVersionsOneFailingExitWithTheWorstAndEveryReportNamesTheVersion) {
  NEED_MATRIX(m);
  Suite s("matrix");
  const fs::path xml = s.dir / "junit.xml";
  const fs::path json = s.dir / "report.json";
  // exits: psql exits 3 with the expected output: ok (noted) on 15, a failure on 16 and later.
  auto r = s.regress({"--stock", "--extension=" + s.dir.string(), "--pg-config=" + m->old_pg_config,
                      "--pg-config=" + m->new_pg_config, "--junit=" + xml.string(),
                      "--json=" + json.string(), "built_for", "exits"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  const std::string o = "[" + m->old_version + "] ", n = "[" + m->new_version + "] ";
  // Each server loaded the extension built for its version (built_for), and each line says which.
  for (const auto& prefix : {o, n}) {
    EXPECT_NE(r.out.find(prefix + "test built_for                    ... ok"), std::string::npos)
        << r.out;
  }
  EXPECT_NE(r.out.find(o + "test exits                        ... ok     (test process exited "
                           "with exit code 3)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(n + "test exits                        ... FAILED (test process exited "
                           "with exit code 3)"),
            std::string::npos)
      << r.out;
  // A summary per version, and the matrix's at the end.
  EXPECT_NE(r.out.find(" PostgreSQL " + m->old_version + ": All 2 tests passed. \n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" PostgreSQL " + m->new_version + ": 1 of 2 tests failed. \n"),
            std::string::npos)
      << r.out;
  // Each version's results in a directory of its own.
  EXPECT_TRUE(s.has("results/" + m->old_version + "/built_for.out"));
  EXPECT_TRUE(s.has("results/" + m->new_version + "/exits.out"));

  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(xml.c_str())) << s.read("junit.xml");
  std::vector<std::string> names, versions;
  std::vector<int> failures;
  for (auto suite : doc.child("testsuites").children("testsuite")) {
    names.push_back(suite.attribute("name").value());
    failures.push_back(suite.attribute("failures").as_int());
    versions.push_back(suite.child("properties")
                           .find_child_by_attribute("property", "name", "version")
                           .attribute("value")
                           .value());
    EXPECT_EQ(suite.attribute("tests").as_int(), 2);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"regress (PostgreSQL " + m->old_version + ")",
                                             "regress (PostgreSQL " + m->new_version + ")"}));
  EXPECT_EQ(failures, (std::vector<int>{0, 1}));
  EXPECT_EQ(versions[0].rfind(m->old_version, 0), 0u) << versions[0];
  EXPECT_EQ(versions[1].rfind(m->new_version, 0), 0u) << versions[1];

  const auto report = nlohmann::json::parse(s.read("report.json"));
  EXPECT_EQ(report["exit_code"], 1);
  ASSERT_EQ(report["runs"].size(), 2u) << report.dump(2);
  EXPECT_EQ(report["runs"][0]["label"], m->old_version);
  EXPECT_EQ(report["runs"][0]["exit_code"], 0);
  EXPECT_EQ(report["runs"][1]["label"], m->new_version);
  EXPECT_EQ(report["runs"][1]["pg_config"], m->new_pg_config);
  EXPECT_EQ(report["runs"][1]["exit_code"], 1);
  EXPECT_EQ(test_named(report["runs"][1], "exits")["psql_status"], 3);

  // TAP: one stream, every test point named with its version, one plan.
  auto tap = s.regress({"--stock", "--extension=" + s.dir.string(), "--tap",
                        "--pg-config=" + m->old_pg_config, "--pg-config=" + m->new_pg_config,
                        "built_for", "exits"});
  EXPECT_EQ(tap.status, 1) << tap.out << tap.err;
  EXPECT_EQ(tap.out.rfind("TAP version 13\n", 0), 0u) << tap.out;
  EXPECT_EQ(tap.out.find("TAP version 13", 1), std::string::npos) << tap.out;
  EXPECT_NE(tap.out.find("ok 1 - " + o + "built_for\n"), std::string::npos) << tap.out;
  EXPECT_NE(tap.out.find("ok 2 - " + o + "exits\n"), std::string::npos) << tap.out;
  EXPECT_NE(tap.out.find("ok 3 - " + n + "built_for\n"), std::string::npos) << tap.out;
  EXPECT_NE(tap.out.find("not ok 4 - " + n + "exits\n"), std::string::npos) << tap.out;
  EXPECT_NE(tap.out.find("\n1..4\n"), std::string::npos) << tap.out;
}

TEST(Matrix, EveryVersionGetsTheHarnessExtensionBuiltForIt) {
  NEED_MATRIX(m);
  // Without --stock each server runs with pg_unit_tests preloaded, built for its own installation
  // (a 15 build in a 16+ server fails to load): --freeze works on every version.
  Suite s("freeze");
  auto r = s.regress({"--freeze=2024-02-29 12:34:56+00", "--pg-config=" + m->old_pg_config,
                      "--pg-config=" + m->new_pg_config, "clock"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  for (const auto& version : {m->old_version, m->new_version}) {
    EXPECT_NE(r.out.find("[" + version + "] test clock                        ... ok"),
              std::string::npos)
        << r.out;
    EXPECT_TRUE(s.has("results/" + version + "/clock.out")) << version;
  }
}

TEST(Matrix, EachVersionParsesSchedulesByItsOwnRulesAndTheOthersStillRun) {
  NEED_MATRIX(m);
  Suite s("matrix");
  // `ignore:` is pg_regress 15's; 16 removed it and calls the line a syntax error. The list comes
  // from $PG_CONFIGS this time, separated by a colon.
  auto r = s.regress({"--stock", "--extension=" + s.dir.string(),
                      "--schedule=" + (s.dir / "ignore_schedule").string(),
                      "--json=" + (s.dir / "report.json").string()},
                     m->old_pg_config + ":" + m->new_pg_config);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("[" + m->old_version + "] test exits"), std::string::npos) << r.out;
  // One line on stderr: which version, what, where.
  EXPECT_EQ(r.err, "pg_unit_tests regress: PostgreSQL " + m->new_version +
                       ": syntax error in schedule file \"" + (s.dir / "ignore_schedule").string() +
                       "\" line 1: ignore: exits (PostgreSQL " +
                       std::to_string(std::stoi(m->new_version)) +
                       "'s pg_regress has no \"ignore:\" lines, 16 removed them: drop the line, "
                       "or make the test pass)\n");
  const auto report = nlohmann::json::parse(s.read("report.json"));
  EXPECT_EQ(report["runs"][0]["exit_code"], 0) << report.dump(2);
  EXPECT_EQ(report["runs"][1]["exit_code"], 2);
  EXPECT_NE(report["runs"][1]["error"].get<std::string>().find("syntax error"), std::string::npos);
}

TEST(Matrix, OptionsThatNameOneInstallationOrServerAreUsageErrors) {
  NEED_MATRIX(m);
  Suite s("matrix");
  for (const auto& [option, message] : std::vector<std::pair<std::string, std::string>>{
           {"--accept", "--accept with several installations"},
           {"--bindir=/usr/bin", "--bindir names a directory of one installation"},
           {"--port=5432", "--host, --port, --user and --use-existing name one existing server"}}) {
    auto r = s.regress({"--stock", option, "--pg-config=" + m->old_pg_config,
                        "--pg-config=" + m->new_pg_config, "built_for"});
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Matrix, MakeCheckWithPgConfigsRunsTheSuiteOnEach) {
  NEED_MATRIX(m);
  Suite s("matrix");
  auto r = make_in(s, {"check", "PG_CONFIG=" + m->old_pg_config,
                       "PG_CONFIGS=" + m->old_pg_config + " " + m->new_pg_config,
                       "PGUT_REGRESS_OPTS=--stock --junit=junit.xml"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  for (const auto& version : {m->old_version, m->new_version}) {
    EXPECT_NE(r.out.find("[" + version + "] test built_for                    ... ok"),
              std::string::npos)
        << r.out;
  }
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((s.dir / "junit.xml").c_str())) << s.read("junit.xml");
  auto suites = doc.child("testsuites").children("testsuite");
  EXPECT_EQ(std::distance(suites.begin(), suites.end()), 2);
}
