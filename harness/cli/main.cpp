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

#include "cli/clock_command.hpp"
#include "cli/commands.hpp"
#include "cli/database_commands.hpp"
#include "cli/regress_command.hpp"
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
  7  stop, clock: no server at that URI or directory
  8  system error: the unprivileged server user could not be prepared, fork failed
  9  snapshot, createdb, dropdb, clock: the server refused (other sessions connected, no such
     snapshot or template, name taken, no extension or privilege); its message is quoted
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

}  // namespace

int main(int argc, char** argv) {
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
  pg_unit_tests::cli::ClockCommand clock_command(app);

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
    if (*regress) {
      regress_args.command = command;
      return cmd::regress(regress_args);
    }
    if (*list) return cmd::list(json);
    if (*warm) return cmd::cache_warm(start_args, spare_servers);
    if (*status) return cmd::cache_status(json);
    if (*clear) return cmd::cache_clear();
    if (auto status = database_commands.run(command)) return *status;
    if (auto status = clock_command.run()) return *status;
  } catch (const Error& e) {
    std::fprintf(stderr, "pg_unit_tests: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_unit_tests: internal error: %s\n", e.what());
    return static_cast<int>(ExitCode::kSystem);
  }
  return static_cast<int>(ExitCode::kUsage);
}
