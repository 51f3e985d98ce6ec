// pg_regress-style suites (sql/, expected/, schedules) on an ephemeral server of the harness, or on
// an existing server. Behaves as the pg_regress of the installation's version does (same psql
// invocation, environment, database set-up, schedules, alternative expected files,
// regression.diffs), with additions: TAP, JUnit and JSON reports, --accept, --jobs, a missing
// expected file failing one test only, and a version matrix (run_matrix).
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::regress {

namespace fs = std::filesystem;

// One `test:` line of a schedule (or one test named on the command line).
struct Group {
  std::vector<std::string> tests;
  std::string file;  // schedule file; empty for tests named on the command line
  int line = 0;
  // The `ignore:` lines of the same schedule above this one: a failure of one of these tests in
  // this group is reported as "failed (ignored)" and not counted (pg_regress 15; 16 has no
  // `ignore:`).
  std::set<std::string> ignored;
};

struct Schedule {
  std::vector<Group> groups;
  std::set<std::string> ignored;  // every `ignore:` line of the file
};

// Parses a schedule as the pg_regress of PostgreSQL `major` does: `test: a b c`, `#` comments,
// blank lines, and up to 15 `ignore: a`. Throws Error(kUsage) naming the file and line for anything
// else (16 and later: an `ignore:` line too).
Schedule parse_schedule(const fs::path& file, int major = 15);

// The settings every ephemeral server of `regress` gets before --temp-config and -o: those of the
// harness's test servers that a test can see (durability off, a small server, no autovacuum) set
// back to what pg_regress's temporary instance has (initdb's defaults and pg_regress's
// max_prepared_transactions = 2). fsync stays off: no test can see it.
std::vector<std::string> temp_instance_settings();

// What the suite's tests are: pg_regress's SQL files run by psql, or pg_isolation_regress's
// specs run by isolationtester.
enum class Kind {
  kRegress,    // sql/T.sql through psql; default database "regression"
  kIsolation,  // specs/T.spec through isolationtester; default database "isolation_regression"
};

struct Options {
  Kind kind = Kind::kRegress;
  // pg_regress's own options.
  std::string inputdir = ".";
  std::string outputdir = ".";
  std::vector<std::string> schedules;
  std::vector<std::string> tests;            // extra tests, run after the schedules
  std::vector<std::string> load_extensions;  // CREATE EXTENSION in the test database
  std::vector<std::string> dbnames;          // tests run in the first; empty: the kind's default
  std::vector<std::string> create_roles;
  int max_connections = 0;       // batches parallel groups; 0 = unlimited
  int max_concurrent_tests = 0;  // a larger group is an error; 0 = unlimited
  std::string encoding;          // of the test database (and PGCLIENTENCODING)
  bool no_locale = false;
  std::vector<std::string> temp_configs;  // postgresql.conf fragments for the ephemeral server
  std::string launcher;                   // shell words put before psql
  std::string bindir;                     // where psql is; default: the installation's
  std::string dlpath;                     // PG_LIBDIR; default: the installation's pkglibdir
  // Isolation: the isolationtester to run; default: the installation's (PGXS ships it in
  // lib/pgxs/src/test/isolation/, beside pg_isolation_regress).
  std::string isolationtester;
  // An existing server instead of an ephemeral one (any of these set).
  bool use_existing = false;  // and do not create the databases
  std::string host;
  int port = 0;
  std::string user;

  // Additions.
  int jobs = 1;          // concurrent tests for isolated tests (see README)
  bool isolate = false;  // every test in its own clone of the prepared database
  bool accept = false;   // copy results over the expected files of failed tests
  int diff_head_lines = 30;
  // For a process that exits right after the run (the CLI): the ephemeral server is tied to this
  // process and its teardown (postgres's exit, the removal of its files) finishes in the
  // background instead of before run() returns. Nothing is left behind either way.
  bool stop_in_background = false;
  // Leave a pre-started spare server of this run's configuration for the next run (see README,
  // "Speed"): a run claims one if there is one, and each claim is followed by a replacement.
  bool keep_warm = false;
  // A version matrix: the pg_config of each installation to run the suite on, one after another
  // (run_matrix; run_tap_tests). Empty: server.pg_config alone. run() takes at most one.
  std::vector<std::string> installations;
  // TAP tests (run_tap_tests): the command to run instead of prove with PGXS's flags.
  std::vector<std::string> command;
  ServerOptions server;  // the ephemeral server: extensions, settings, freeze, pg_config ...
};

enum class Status { kOk, kFailed, kIgnored, kAccepted };
const char* to_string(Status s);

struct TestResult {
  std::string name;
  int group = 0;          // index of its group in run order
  bool parallel = false;  // ran in a group of two or more (or with --jobs)
  Status status = Status::kOk;
  double milliseconds = 0;
  // Non-zero is noted; a failure by itself on 16 and later, as their pg_regress counts it.
  int psql_status = 0;
  std::string database;  // where it ran
  fs::path input;        // sql/T.sql
  fs::path result;       // results/T.out
  fs::path expected;     // the expected file it matched, or the closest one
  std::string message;   // why it failed, when not a plain difference (missing expected file)
  std::string diff;      // the unified diff (head of it, at most diff_head_lines lines)
  bool diff_truncated = false;
  std::chrono::system_clock::time_point started;
};

struct Summary {
  std::string suite = "regress";  // what ran: "regress" or "isolation" (JUnit's testsuite)
  std::string version;            // PostgreSQL's version on the ephemeral server ("15.20")
  // In a version matrix: the installation's name in reports ("15.20"; "16.2-cassert" or
  // "16.2-2" when two installations have one version), its pg_config, and why it could not run
  // (then nothing else is set, and exit_code() is 2).
  std::string label;
  std::string pg_config;
  std::string error;
  std::vector<TestResult> tests;
  int passed = 0, failed = 0, ignored = 0, accepted = 0;
  double seconds = 0;
  fs::path diffs_file;    // regression.diffs (removed when everything passed)
  fs::path summary_file;  // regression.out (likewise)
  std::string server;     // what the suite ran on
  int exit_code() const { return !error.empty() ? 2 : failed > 0 ? 1 : 0; }
};

// The worst of the runs' exit codes: 2 if one could not run, 1 if a test failed, else 0.
int exit_code(const std::vector<Summary>& runs);

// What the runner reports while it works (the CLI prints it: console lines, TAP). Calls come from
// one thread at a time, but not always the same thread.
struct Observer {
  virtual ~Observer() = default;
  virtual void begin(int /*total_tests*/, const std::string& /*server*/) {}
  virtual void setup(const std::string& /*what*/) {}
  // Something the user should know before reading the results (a test may fail because of it).
  virtual void note(const std::string& /*text*/) {}
  virtual void group_started(const Group& /*group*/, bool /*parallel*/) {}
  virtual void test_started(const std::string& /*name*/) {}
  virtual void test_finished(const TestResult& /*result*/) {}
  // The group's results in schedule order.
  virtual void group_finished(const Group& /*group*/, const std::vector<TestResult>& /*results*/) {}
  // A version matrix (run_matrix) announces each installation before its run (`label` as in
  // Summary) and hands over its summary after it, or after it failed to run.
  virtual void installation_started(const std::string& /*label*/,
                                    const std::string& /*pg_config*/) {}
  virtual void installation_finished(const Summary& /*summary*/) {}
};

// Runs the suite. Throws Error for anything that prevents running it (bad schedule, unknown test,
// missing psql, a server that does not start); the CLI turns those into exit status 2.
Summary run(const Options& options, Observer& observer);

// A version matrix: the suite on each of options.installations in turn (server.pg_config alone
// when empty), each with its own ephemeral server, the pg_regress rules of its version and the
// `--extension` directories built for it; results/LABEL/ holds each installation's results and
// its regression.diffs and regression.out, and OUTPUTDIR/regression.diffs and regression.out
// gather those of all. An installation that cannot run gets a Summary with `error` set, and the
// others still run. Throws Error(kUsage) for options that cannot apply to several installations
// (an existing server, --bindir, --dlpath, --isolationtester, --accept).
std::vector<Summary> run_matrix(const Options& options, Observer& observer);

// PGXS's TAP tests (TAP_TESTS = 1: t/*.pl with PostgreSQL::Test::Cluster), run as PGXS's
// prove_installcheck runs them: `prove -I <pgxs>/src/test/perl/ -I <inputdir> t/*.pl` (or
// `options.tests`, or `options.command` instead) in --inputdir, with TESTDIR=--outputdir (its
// tmp_check/ emptied first) and PG_REGRESS set, and PATH starting with the bin directory of the
// installation, or of the harness's overlay of it when `options.server.extensions` are served.
// With several `options.installations`, once per installation, each run under a "# PostgreSQL
// VERSION (PG_CONFIG)" line; the worst status is returned (2 for one that could not run: its
// reason is a line on stderr, and the others still run).
// Under root the tests run as the harness's system user (initdb refuses root). Prove's output goes
// to standard output; returns 0 if it passed, 1 if not. Throws Error when they cannot run.
int run_tap_tests(const Options& options);

// Reports. Text is written as bytes; XML and JSON get valid UTF-8 (invalid bytes become U+FFFD).
void write_junit(const Summary& summary, const fs::path& file);
// Several runs in one file, one <testsuite> each (regress and isolation, or one per version).
void write_junit(const std::vector<Summary>& runs, const fs::path& file);
void write_json(const Summary& summary, const fs::path& file);
// A version matrix: {"exit_code", "passed", "failed", "ignored", "accepted", "seconds", "runs":
// [one object as above per installation, with "label", "pg_config" and "error"]}.
void write_json(const std::vector<Summary>& runs, const fs::path& file);

// Observers for the CLI: pg_regress-like console lines (with the head of each diff), or TAP 13.
std::unique_ptr<Observer> console_observer(std::FILE* out);
std::unique_ptr<Observer> tap_observer(std::FILE* out);
// The closing lines (summary, where the diffs are) for each format.
void print_console_summary(const Summary& summary, std::FILE* out);
void print_tap_summary(const Summary& summary, std::FILE* out);
// A version matrix: one line per installation, in order, and where the diffs are.
void print_console_summary(const std::vector<Summary>& runs, std::FILE* out);
void print_tap_summary(const std::vector<Summary>& runs, std::FILE* out);

}  // namespace pg_unit_tests::regress
