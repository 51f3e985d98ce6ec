// pg_unit_tests: the command-line tool. A thin layer over the harness library: it parses the
// command line (CLI11), calls the library, and turns errors into one line and an exit code.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/database_commands.hpp"
#include "cluster/keeper.hpp"
#include "pg_unit_tests/error.hpp"

using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;

namespace {

constexpr const char* kExitCodes = R"(
Exit codes:
  0  success (exec: the command's own exit status; 128+N if a signal N ended it)
  2  usage error: unknown option or bad argument
  3  PostgreSQL installation missing or incomplete (see --pg-config)
  4  the server did not start (its own complaint is quoted)
  5  an --extension directory does not build or has no control file
  6  cache or state directory not writable, or disk full
  7  stop: no server at that URI or directory
  8  system error: the unprivileged server user could not be prepared, fork failed
  9  snapshot, createdb, dropdb: the server refused (other sessions connected, no such
     snapshot or template, name taken); its message is quoted
)";

void add_server_options(CLI::App* cmd, pg_unit_tests::cli::StartArgs& a) {
  cmd->add_flag("-t,--tcp", a.tcp,
                "also listen on 127.0.0.1 on a free port, with a random password (in the URI)");
  cmd->add_option("-w,--idle-timeout", a.idle_timeout,
                  "stop and remove the server after SECONDS without a connection (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS");
  cmd->add_option("-o,--options", a.options,
                  "extra server settings, as for postgres: \"-c name=value -c name=value\"")
      ->type_name("OPTIONS");
  cmd->add_option("--locale", a.locale, "locale of the cluster (default C.UTF-8)");
  cmd->add_option("--encoding", a.encoding, "encoding of the cluster (default UTF8)");
  cmd->add_option("--pg-config", a.pg_config,
                  "pg_config of the PostgreSQL installation to use (default: $PG_CONFIG, the "
                  "newest /usr/lib/postgresql/*, pg_config on PATH)")
      ->type_name("PATH");
  cmd->add_option("--extension", a.extensions,
                  "serve this PGXS extension (source, staging or flat directory) from its build "
                  "output; repeatable")
      ->type_name("DIR");
  cmd->add_option("--create", a.create,
                  "CREATE EXTENSION NAME in the database before handing it out; repeatable")
      ->type_name("NAME");
  cmd->add_option(
         "--freeze", a.freeze,
         "start every session with the clock frozen at TIMESTAMP (pg_unit_tests time control)")
      ->type_name("TIMESTAMP");
  cmd->add_flag("--stock", a.stock,
                "do not preload the pg_unit_tests extension (a stock server without time control)");
}

constexpr const char* kRegressExitCodes = R"(
Exit codes of regress (as pg_regress): 0 all tests passed, 1 a test failed, 2 the suite could not
run (bad option, schedule syntax error, unknown test, no psql, an extension that does not build, a
server that does not start); the reason is one line on stderr.
)";

void add_regress_options(CLI::App* cmd, pg_unit_tests::cli::RegressArgs& a) {
  auto& o = a.options;
  // As with pg_regress (getopt), a repeated single-valued option takes the last value: PGXS passes
  // --inputdir=./ and REGRESS_OPTS often another --inputdir.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->footer(kRegressExitCodes);
  cmd->add_option("tests", o.tests, "tests to run after the schedules (sql/TEST.sql)")
      ->type_name("TEST");
  const char* pg = "pg_regress";
  cmd->add_option("--inputdir", o.inputdir, "take sql/ and expected/ from DIR (default .)")
      ->type_name("DIR")
      ->group(pg);
  cmd->add_option("--outputdir", o.outputdir,
                  "write results/, regression.diffs there; psql runs there (default .)")
      ->type_name("DIR")
      ->group(pg);
  cmd->add_option("--schedule", o.schedules, "run the schedule FILE; repeatable")
      ->allow_extra_args(false)
      ->type_name("FILE")
      ->group(pg);
  cmd->add_option("--load-extension", o.load_extensions,
                  "CREATE EXTENSION EXT in the test database first; repeatable")
      ->allow_extra_args(false)
      ->type_name("EXT")
      ->group(pg);
  cmd->add_option("--dbname", a.dbname,
                  "test database(s), comma separated; tests run in the first (default regression)")
      ->type_name("DB")
      ->group(pg);
  cmd->add_option("--create-role", o.create_roles, "create these roles (comma separated)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("ROLE")
      ->group(pg);
  cmd->add_option("--max-connections", o.max_connections,
                  "at most N tests at a time in a parallel group")
      ->type_name("N")
      ->group(pg);
  cmd->add_option("--max-concurrent-tests", o.max_concurrent_tests,
                  "a schedule group larger than N is an error")
      ->type_name("N")
      ->group(pg);
  cmd->add_option("--encoding", o.encoding, "encoding of the test database")->group(pg);
  cmd->add_flag("--no-locale", o.no_locale, "C locale in the test database")->group(pg);
  cmd->add_option("--temp-config", o.temp_configs,
                  "postgresql.conf lines for the server (shared_preload_libraries ...); "
                  "repeatable")
      ->allow_extra_args(false)
      ->type_name("FILE")
      ->group(pg);
  cmd->add_option("--launcher", o.launcher, "command put in front of psql")
      ->type_name("CMD")
      ->group(pg);
  cmd->add_option("--bindir", o.bindir, "where psql is (default: the installation's)")
      ->type_name("DIR")
      ->group(pg);
  cmd->add_option("--dlpath", o.dlpath, "PG_LIBDIR for the tests")->type_name("DIR")->group(pg);
  cmd->add_flag("--use-existing", o.use_existing,
                "use an existing server (PGHOST/PGPORT or --host/--port) whose test database "
                "already exists")
      ->group(pg);
  cmd->add_option("--host", o.host, "existing server: host or socket directory")->group(pg);
  cmd->add_option("--port", o.port, "existing server: port")->group(pg);
  cmd->add_option("--user", o.user, "existing server: user")->group(pg);
  static std::string ignored;
  static bool ignored_flag = false;
  cmd->add_option("--temp-instance", ignored,
                  "accepted and ignored: the suite always gets a fresh ephemeral server")
      ->type_name("DIR")
      ->group(pg);
  cmd->add_flag("--debug", ignored_flag, "accepted and ignored")->group(pg);

  const char* more = "pg_unit_tests";
  cmd->add_option("-j,--jobs", o.jobs,
                  "run the tests named on the command line (or all, with --isolate) N at a time, "
                  "each in its own clone of the prepared database")
      ->check(CLI::PositiveNumber)
      ->type_name("N")
      ->group(more);
  cmd->add_flag("--isolate", o.isolate,
                "every test, scheduled or not, in its own clone of the prepared database")
      ->group(more);
  cmd->add_flag("--accept", o.accept,
                "copy the results of failed tests over their expected files (review with git diff)")
      ->group(more);
  cmd->add_flag("--tap", a.tap, "print TAP version 13 on stdout (for prove)")->group(more);
  cmd->add_option("--junit", a.junit, "write a JUnit XML report to FILE")
      ->type_name("FILE")
      ->group(more);
  cmd->add_option("--json", a.json, "write a JSON report to FILE")->type_name("FILE")->group(more);
  cmd->add_option("--diff-lines", o.diff_head_lines,
                  "lines of each failed test's diff shown inline (default 30)")
      ->type_name("N")
      ->group(more);
  auto& s = a.server;
  cmd->add_option("--extension", s.extensions,
                  "serve this PGXS extension (source, staging or flat directory) from its build "
                  "output; repeatable")
      ->allow_extra_args(false)
      ->type_name("DIR")
      ->group(more);
  cmd->add_option("-o,--options", s.options,
                  "server settings: \"-c name=value -c name=value\"; repeatable")
      ->allow_extra_args(false)
      ->type_name("OPTIONS")
      ->group(more);
  cmd->add_option("--freeze", s.freeze, "run the suite with every clock frozen at TIMESTAMP")
      ->type_name("TIMESTAMP")
      ->group(more);
  cmd->add_option("--pg-config", s.pg_config, "pg_config of the PostgreSQL installation to use")
      ->type_name("PATH")
      ->group(more);
  cmd->add_option("--locale", s.locale, "locale of the cluster (default C.UTF-8)")->group(more);
  cmd->add_flag("--stock", s.stock, "do not preload the pg_unit_tests extension")->group(more);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == pg_unit_tests::cluster::kKeeperArg) {
    return pg_unit_tests::cluster::keeper_main();
  }
  // `exec ... -- COMMAND ARGS`: everything after the first "--" is the command, untouched.
  std::vector<std::string> command;
  int parse_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      parse_argc = i;
      for (int j = i + 1; j < argc; ++j) command.emplace_back(argv[j]);
      break;
    }
  }

  CLI::App app{
      "pg_unit_tests: real, throw-away PostgreSQL servers for tests, ready in milliseconds.",
      "pg_unit_tests"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("pg_unit_tests ") + PGUT_VERSION);

  pg_unit_tests::cli::StartArgs start_args;
  bool json = false;
  auto* start = app.add_subcommand("start", "start a server and print its connection URI");
  add_server_options(start, start_args);
  start->add_flag("--json", json,
                  "print a JSON object (uri, host, port, user, password, database, directories, "
                  "pid, version) instead of the URI");

  std::vector<std::string> stop_targets;
  bool stop_all = false;
  auto* stop = app.add_subcommand("stop", "stop servers and remove every file they had");
  stop->add_option("target", stop_targets, "the URI that start printed, or the server's directory")
      ->type_name("URI|DIR");
  stop->add_flag("--all", stop_all, "stop every server of this user, pre-started spares included");

  auto* exec = app.add_subcommand(
      "exec",
      "start a server, run COMMAND with PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and "
      "DATABASE_URL set, remove the server, exit with COMMAND's status.\nUsage: pg_unit_tests "
      "exec [OPTIONS] -- COMMAND [ARGS...]");
  add_server_options(exec, start_args);

  pg_unit_tests::cli::RegressArgs regress_args;
  auto* regress = app.add_subcommand(
      "regress",
      "run a pg_regress suite (sql/, expected/, schedules) on an ephemeral server and remove it; "
      "accepts pg_regress's options");
  add_regress_options(regress, regress_args);

  auto* list = app.add_subcommand("list", "list this user's running servers");
  list->add_flag("--json", json, "print JSON");

  auto* cache = app.add_subcommand("cache", "the pre-initialised templates of the fast path");
  cache->require_subcommand(1);
  auto* warm = cache->add_subcommand("warm", "prepare the template and spare copies now");
  add_server_options(warm, start_args);
  int spare_servers = 0;
  warm->add_option(
          "--servers", spare_servers,
          "also pre-start N spare servers of this configuration: a matching start or exec "
          "claims one in milliseconds (they retire after 10 idle minutes; cache clear stops "
          "them)")
      ->check(CLI::Range(0, 64))
      ->type_name("N");
  auto* status = cache->add_subcommand("status", "show what the cache holds and where");
  status->add_flag("--json", json, "print JSON");
  auto* clear = cache->add_subcommand("clear", "remove templates, spares and unused overlays");

  pg_unit_tests::cli::DatabaseCommands database_commands(app);

  try {
    std::vector<std::string> args;
    for (int i = parse_argc - 1; i >= 1; --i) args.emplace_back(argv[i]);  // CLI11 wants reversed
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "pg_unit_tests: %s (see pg_unit_tests --help)\n", e.what());
    return static_cast<int>(ExitCode::kUsage);
  }

  try {
    namespace cmd = pg_unit_tests::cli;
    if (*start) return cmd::start(start_args, json);
    if (*stop) return cmd::stop(stop_targets, stop_all);
    if (*exec) return cmd::exec(start_args, command);
    if (*regress) return cmd::regress(regress_args);
    if (*list) return cmd::list(json);
    if (*warm) return cmd::cache_warm(start_args, spare_servers);
    if (*status) return cmd::cache_status(json);
    if (*clear) return cmd::cache_clear();
    if (auto status = database_commands.run(command)) return *status;
  } catch (const Error& e) {
    std::fprintf(stderr, "pg_unit_tests: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_unit_tests: internal error: %s\n", e.what());
    return static_cast<int>(ExitCode::kSystem);
  }
  return static_cast<int>(ExitCode::kUsage);
}
