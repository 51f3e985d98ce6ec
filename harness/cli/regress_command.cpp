#include "cli/regress_command.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::cli {

namespace {

constexpr const char* kRegressExitCodes = R"(
Exit codes of regress (as pg_regress): 0 all tests passed, 1 a test failed, 2 the suite could not
run (bad option, schedule syntax error, unknown test, no psql, an extension that does not build, a
server that does not start); the reason is one line on stderr. A version matrix (several
--pg-config) exits with the worst status of its installations.
)";

}  // namespace

void add_regress_options(CLI::App* cmd, pg_unit_tests::cli::RegressArgs& a) {
  auto& o = a.options;
  // As with pg_regress (getopt), a repeated single-valued option takes the last value: PGXS passes
  // --inputdir=./ and REGRESS_OPTS often another --inputdir.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->footer(kRegressExitCodes);
  cmd->add_option(
         "tests", o.tests,
         "tests to run after the schedules (sql/TEST.sql; with --isolation specs/TEST.spec)")
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
                  "test database(s), comma separated; tests run in the first (default regression, "
                  "isolation_regression with --isolation)")
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
  cmd->add_flag_callback(
         "--isolation", [&o] { o.kind = regress::Kind::kIsolation; },
         "run isolation specs (specs/TEST.spec) with isolationtester, as pg_isolation_regress "
         "does (default database isolation_regression)")
      ->group(more);
  cmd->add_flag("--tap-tests", a.tap_tests,
                "run PGXS TAP tests (t/*.pl, or the TEST files named) with prove, the "
                "--extension directories served to the clusters they start; `-- COMMAND` runs "
                "COMMAND instead of prove")
      ->group(more);
  cmd->add_option("--isolationtester", o.isolationtester,
                  "with --isolation: the isolationtester to run (default: the installation's, "
                  "beside its pg_isolation_regress)")
      ->type_name("PATH")
      ->group(more);
  cmd->add_option("-j,--jobs", o.jobs,
                  "run the tests named on the command line (or all, with --isolate) N at a time, "
                  "each in its own clone of the prepared database")
      ->check(CLI::PositiveNumber)
      ->type_name("N")
      ->group(more);
  cmd->add_flag("--keep-warm", o.keep_warm,
                "leave a pre-started server of this run's configuration for the next run, which "
                "then starts in milliseconds (retired after $PG_UNIT_TESTS_SPARE_IDLE s, default "
                "600)")
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
  cmd->add_option("--pg-config", a.pg_configs,
                  "pg_config of the PostgreSQL installation to use; repeat it for a version matrix "
                  "(default: $PG_CONFIGS, a list separated by spaces or colons, else as for start)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->type_name("PATH")
      ->group(more);
  cmd->add_option("--locale", s.locale, "locale of the cluster (default C.UTF-8)")->group(more);
  cmd->add_flag("--stock", s.stock, "do not preload the pg_unit_tests extension")->group(more);
}
std::vector<std::string> split_pg_configs(const std::string& list) {
  std::vector<std::string> out;
  std::string word;
  for (const char c : list + " ") {
    if (c == ' ' || c == '\t' || c == '\n' || c == ':') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  return out;
}

regress::Options library_options(const RegressArgs& args) {
  regress::Options o = args.options;
  o.server = args.server.to_options();
  o.installations = args.pg_configs;
  if (o.installations.empty()) {
    if (const char* list = std::getenv("PG_CONFIGS")) o.installations = split_pg_configs(list);
  }
  if (o.installations.size() == 1) {
    o.server.pg_config = o.installations.front();
    o.installations.clear();
  }
  if (!args.command.empty() && !args.tap_tests) {
    throw Error(ExitCode::kUsage, "a command after -- is only run with --tap-tests");
  }
  if (args.tap_tests && o.kind == regress::Kind::kIsolation) {
    throw Error(ExitCode::kUsage, "--tap-tests and --isolation are different runs: give one");
  }
  o.command = args.command;
  o.stop_in_background = true;  // the CLI exits once it has printed the verdict
  if (!args.dbname.empty()) {
    o.dbnames.clear();
    std::string rest = args.dbname;
    for (size_t comma; (comma = rest.find(',')) != std::string::npos; rest.erase(0, comma + 1)) {
      o.dbnames.push_back(rest.substr(0, comma));
    }
    o.dbnames.push_back(rest);
    if (o.dbnames.front().empty()) {
      throw Error(ExitCode::kUsage, "--dbname: no database name was specified");
    }
  }
  return o;
}

namespace {

// A version matrix: every installation runs, then the reports of all, and the worst status.
int matrix(const RegressArgs& args, const regress::Options& options, regress::Observer& observer) {
  const std::vector<regress::Summary> runs = regress::run_matrix(options, observer);
  if (!args.junit.empty()) regress::write_junit(runs, args.junit);
  if (!args.json.empty()) regress::write_json(runs, args.json);
  if (args.tap) {
    regress::print_tap_summary(runs, stdout);
  } else {
    regress::print_console_summary(runs, stdout);
  }
  std::fflush(stdout);
  for (const auto& s : runs) {
    if (!s.error.empty()) {
      std::fprintf(stderr, "pg_unit_tests regress: PostgreSQL %s: %s\n", s.label.c_str(),
                   s.error.c_str());
    }
  }
  return regress::exit_code(runs);
}

}  // namespace

int regress(RegressArgs& args) {
  const InterruptibleStart interruptible;
  try {
    const regress::Options options = library_options(args);
    if (args.tap_tests) return regress::run_tap_tests(options);
    std::unique_ptr<regress::Observer> observer =
        args.tap ? regress::tap_observer(stdout) : regress::console_observer(stdout);
    if (options.installations.size() > 1) return matrix(args, options, *observer);
    const regress::Summary summary = regress::run(options, *observer);
    if (!args.junit.empty()) regress::write_junit(summary, args.junit);
    if (!args.json.empty()) regress::write_json(summary, args.json);
    if (args.tap) {
      regress::print_tap_summary(summary, stdout);
    } else {
      regress::print_console_summary(summary, stdout);
    }
    return summary.exit_code();
  } catch (const Error& e) {
    // pg_regress's contract: 2 when the suite could not run, whatever the reason.
    std::fflush(stdout);
    std::fprintf(stderr, "pg_unit_tests regress: %s\n", e.what());
    return 2;
  }
}

}  // namespace pg_unit_tests::cli
