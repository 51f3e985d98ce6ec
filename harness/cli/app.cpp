// The command line of pg_unit_tests (CLI11): every command and option, parsing, and dispatch to
// commands.cpp. A thin layer over the library's public API; errors become one line and an exit
// code. Kept apart from main() so that unit tests parse command lines without running anything.
#include "cli/app.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "cli/lazy_options.hpp"
#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::cli {

namespace {

// The exit-code table of --help, from the library's one table (pg_unit_tests/error.hpp).
std::string exit_codes_footer() {
  std::string out = "\nExit codes:\n";
  for (const auto& [code, meaning] : kExitCodeMeanings) {
    std::string line = fmt::format("  {:>3}  ", static_cast<int>(code));
    const size_t indent = line.size();
    std::string word;
    for (const char* p = meaning;; ++p) {
      if (*p == ' ' || *p == '\0') {
        if (line.size() + word.size() > 98 && line.size() > indent) {
          line.pop_back();  // the blank before the word that goes to the next line
          out += line + "\n";
          line = std::string(indent, ' ');
        }
        line += word + (*p ? " " : "");
        word.clear();
        if (!*p) break;
      } else {
        word.push_back(*p);
      }
    }
    out += line + "\n";
  }
  return out;
}

// -w: a whole number of seconds; CLI11's range check would print the range as a 300-digit float.
const CLI::Validator kSeconds(
    [](std::string& text) -> std::string {
      size_t used = 0;
      long v = -1;
      try {
        v = std::stol(text, &used);
      } catch (const std::exception&) {
      }
      if (used != text.size() || v < 0 || text.empty()) {
        return fmt::format(
            "'{}' is not a number of seconds: give a whole number, 0 or more (0: "
            "never)",
            text);
      }
      return {};
    },
    "SECONDS");

// The options of a server; `idle_timeout` only where the server outlives the command (start).
void add_server_options(CLI::App* cmd, StartArgs& a, bool idle_timeout) {
  cmd->add_flag("-t,--tcp", a.tcp,
                "also listen on 127.0.0.1 on a free port, with a random password (in the URI)");
  if (idle_timeout) {
    cmd->add_option("-w,--idle-timeout", a.idle_timeout,
                    "stop and remove the server after SECONDS without a connection (0: never)")
        ->check(kSeconds)
        ->type_name("SECONDS");
    cmd->add_option("--owner", a.owner,
                    "stop and remove the server when the process PID ends (instead of after the "
                    "idle timeout), as for a test runner that starts one server for its run")
        ->check(CLI::PositiveNumber)
        ->type_name("PID");
  }
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

// Migrated templates (ServerOptions::init*): for start, exec, regress and cache warm.
void add_init_options(CLI::App* cmd, StartArgs& a) {
  const char* group = "Migrated template (prepared once per content, then cached)";
  cmd->add_option("--init", a.init,
                  "apply this SQL file, or a directory's *.sql files in name order, to the "
                  "database once (psql, ON_ERROR_STOP); repeatable, applied in the order given")
      ->type_name("DIR_OR_FILE")
      ->group(group)
      ->allow_extra_args(false)  // one path per --init: regress's test names follow
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--init-command", a.init_command,
                  "run this shell command once to prepare the database (DATABASE_URL and PG* set "
                  "to it): a migration tool such as alembic, goose, knex, flyway")
      ->type_name("CMD")
      ->group(group);
  cmd->add_option("--init-key", a.init_key,
                  "a file or directory whose content keys the template (the command's "
                  "migrations); repeatable")
      ->type_name("PATH")
      ->group(group)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

}  // namespace

namespace {
constexpr const char* kHelpFlag = "-h,--help";  // CLI11's own
constexpr const char* kHelpText = "Print this help message and exit";
}  // namespace

App::App()
    : app_("pg_unit_tests: real, throw-away PostgreSQL servers for tests, ready in milliseconds.",
           "pg_unit_tests") {
  // CLI11 gives every subcommand a copy of its parent's help flag when it is made: a fifth of
  // the CLI's start for some 25 subcommands of which one runs. They are made without one, and
  // parse() gives it to those on the command line.
  app_.set_help_flag();
  app_.footer(exit_codes_footer());
  app_.require_subcommand(1);
  app_.set_version_flag("--version", std::string("pg_unit_tests ") + PGUT_VERSION);

  start_ = app_.add_subcommand("start", "start a server and print its connection URI");
  add_options_when_reached(start_, [this] {
    add_server_options(start_, start_args_, true);
    add_init_options(start_, start_args_);
    start_->add_flag("--json", json_,
                     "print a JSON object (uri, host, port, user, password, database, directories, "
                     "pid, version, jdbc_url with --tcp, databases) instead of the URI");
    start_
        ->add_flag("--env", env_,
                   "print shell lines for eval instead of the URI: export PGHOST, PGPORT, PGUSER, "
                   "PGDATABASE, DATABASE_URL (and PGPASSWORD with --tcp; unset without), as exec "
                   "sets them")
        ->excludes("--json");
  });

  stop_ = app_.add_subcommand("stop", "stop servers and remove every file they had");
  add_options_when_reached(stop_, [this] {
    stop_
        ->add_option("target", stop_targets_,
                     "the URI that start printed, or the server's directory")
        ->type_name("URI|DIR");
    stop_->add_flag("--all", stop_all_,
                    "stop every server of this user, pre-started spares included");
  });

  exec_ = app_.add_subcommand(
      "exec",
      "start a server, run COMMAND with PGHOST, PGPORT, PGUSER, PGDATABASE, DATABASE_URL (and "
      "PGPASSWORD with --tcp) set, remove the server, exit with COMMAND's status.\nUsage: "
      "pg_unit_tests exec [OPTIONS] -- COMMAND [ARGS...]");
  add_options_when_reached(exec_, [this] {
    add_server_options(exec_, start_args_, false);
    add_init_options(exec_, start_args_);
    exec_
        ->add_option("--databases", exec_databases_,
                     "also prepare N per-worker databases from the server's pool, exported as "
                     "PG_UNIT_TESTS_DATABASES (comma-separated names) and DATABASE_URL_0 ... "
                     "DATABASE_URL_<N-1> (pytest-xdist, go test -p, jest workers)")
        ->check(CLI::Range(0, 64))
        ->type_name("N");
  });
  exec_->allow_extras();  // a command without "--" gets its own message (parse())

  regress_ = app_.add_subcommand(
      "regress",
      "run a pg_regress suite (sql/, expected/, schedules) on an ephemeral server and remove it; "
      "accepts pg_regress's options");
  add_options_when_reached(regress_, [this] {
    add_regress_options(regress_, regress_args_);
    add_init_options(regress_, regress_args_.server);
  });

  list_ = app_.add_subcommand("list", "list this user's running servers");
  add_options_when_reached(list_, [this] { list_->add_flag("--json", json_, "print JSON"); });

  auto* cache = app_.add_subcommand("cache", "the pre-initialised templates of the fast path");
  cache->require_subcommand(1);
  warm_ = cache->add_subcommand("warm", "prepare the template and spare copies now");
  add_options_when_reached(warm_, [this] {
    add_server_options(warm_, start_args_, false);
    add_init_options(warm_, start_args_);
    warm_
        ->add_option(
            "--servers", spare_servers_,
            "also pre-start N spare servers of this configuration: a matching start or exec "
            "claims one in milliseconds (they retire after 10 idle minutes; cache clear stops "
            "them)")
        ->check(CLI::Range(0, 64))
        ->type_name("N");
  });
  status_ = cache->add_subcommand("status", "show what the cache holds and where");
  add_options_when_reached(status_, [this] { status_->add_flag("--json", json_, "print JSON"); });
  clear_ = cache->add_subcommand(
      "clear", "remove templates, migrated templates, spares and unused overlays");

  database_commands_.emplace(app_);
  clock_command_.emplace(app_);
  app_.set_help_flag(kHelpFlag, kHelpText);
}

std::optional<int> App::parse(int argc, const char* const* argv, std::FILE* out, std::FILE* err) {
  // `exec ... -- COMMAND ARGS`: everything after the first "--" is the command, untouched.
  int parse_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      parse_argc = i;
      for (int j = i + 1; j < argc; ++j) command_.emplace_back(argv[j]);
      break;
    }
  }
  auto usage = [&](const std::string& message) {
    std::fprintf(err, "pg_unit_tests: %s (see pg_unit_tests --help)\n", message.c_str());
    return static_cast<int>(ExitCode::kUsage);
  };
  // An unknown command: CLI11 would only say that a subcommand is required.
  if (parse_argc >= 2 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app_.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known |= sub->get_name() == argv[1];
    }
    if (!known)
      return usage(fmt::format("unknown command '{}': the commands are {}", argv[1], names));
  }
  // The help flag of the subcommands named (a word that only looks like one gets a flag it does
  // not use): `cache warm --help` reaches cache, then warm.
  CLI::App* level = &app_;
  for (int i = 1; i < parse_argc; ++i) {
    for (CLI::App* sub : level->get_subcommands({})) {
      if (sub->get_name() != argv[i]) continue;
      if (!sub->get_help_ptr()) sub->set_help_flag(kHelpFlag, kHelpText);
      level = sub;
      break;
    }
  }
  try {
    std::vector<std::string> args;
    for (int i = parse_argc - 1; i >= 1; --i) args.emplace_back(argv[i]);  // CLI11 wants reversed
    app_.parse(args);
    if (*exec_ && !exec_->remaining().empty()) {
      const std::string first = exec_->remaining().front();
      if (first[0] == '-') return usage(fmt::format("exec: unknown option {}", first));
      return usage(
          fmt::format("exec takes its command after '--', as in: pg_unit_tests exec -- {}", first));
    }
  } catch (const CLI::CallForHelp&) {
    std::fputs(app_.help().c_str(), out);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app_.help("", CLI::AppFormatMode::All).c_str(), out);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::fprintf(out, "pg_unit_tests %s\n", PGUT_VERSION);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(err, "pg_unit_tests: %s (see pg_unit_tests --help)\n", e.what());
    return static_cast<int>(ExitCode::kUsage);
  }
  return std::nullopt;
}

int App::run(std::FILE* err) {
  try {
    if (*start_) {
      return start(start_args_, env_    ? StartOutput::kEnv
                                : json_ ? StartOutput::kJson
                                        : StartOutput::kUri);
    }
    if (*stop_) return stop(stop_targets_, stop_all_);
    if (*exec_) return exec(start_args_, command_, exec_databases_);
    if (*regress_) {
      regress_args_.command = command_;
      return regress(regress_args_);
    }
    if (*list_) return list(json_);
    if (*warm_) return cache_warm(start_args_, spare_servers_);
    if (*status_) return cache_status(json_);
    if (*clear_) return cache_clear();
    if (auto status = database_commands_->run(command_)) return *status;
    if (auto status = clock_command_->run(command_)) return *status;
  } catch (const Error& e) {
    std::fprintf(err, "pg_unit_tests: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(err, "pg_unit_tests: internal error: %s\n", e.what());
    return static_cast<int>(ExitCode::kSystem);
  }
  return static_cast<int>(ExitCode::kUsage);
}

int main(int argc, char** argv) {
  App app;
  if (auto done = app.parse(argc, argv)) return *done;
  return app.run();
}

}  // namespace pg_unit_tests::cli
