#include "cli/database_commands.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/lazy_options.hpp"
#include "pg_unit_tests/command.hpp"
#include "pg_unit_tests/database.hpp"

namespace pg_unit_tests::cli {
namespace {

void add_uri(CLI::App* cmd, std::string& uri) {
  cmd->add_option("--uri", uri,
                  "the database to work on (default: $DATABASE_URL, which `pg_unit_tests exec` "
                  "sets)")
      ->type_name("URI");
}

std::string resolve_uri(const std::string& uri) {
  if (!uri.empty()) return uri;
  if (const char* env = std::getenv("DATABASE_URL"); env && *env) return env;
  throw Error(ExitCode::kUsage,
              "no database given: pass --uri URI (as `pg_unit_tests start` prints it) or run "
              "under `pg_unit_tests exec`, which sets DATABASE_URL");
}

}  // namespace

DatabaseCommands::DatabaseCommands(CLI::App& app) {
  snapshot_ = app.add_subcommand(
      "snapshot", "copy a whole database to a template and back (CREATE DATABASE ... TEMPLATE)");
  snapshot_->require_subcommand(1);
  save_ = snapshot_->add_subcommand("save", "copy the database to the snapshot NAME");
  restore_ = snapshot_->add_subcommand(
      "restore", "replace the database with a copy of the snapshot NAME (nobody may be connected)");
  list_ = snapshot_->add_subcommand("list", "list the snapshots of the server");
  drop_ = snapshot_->add_subcommand("drop", "remove the snapshot NAME");
  add_options_when_reached(snapshot_, [this] {
    for (CLI::App* cmd : {save_, restore_, drop_}) {
      cmd->add_option("name", name_, "snapshot name: letters, digits, '_', '-'")
          ->required()
          ->type_name("NAME");
    }
    for (CLI::App* cmd : {save_, restore_, list_, drop_}) add_uri(cmd, uri_);
    for (CLI::App* cmd : {save_, restore_}) {
      cmd->add_option("--strategy", strategy_,
                      "auto (by size), wal_log or file_copy: how CREATE DATABASE copies")
          ->type_name("STRATEGY");
    }
    list_->add_flag("--json", json_, "print JSON");
  });

  createdb_ = app.add_subcommand(
      "createdb",
      "hand out a fresh database, cloned from the server's default database (its postgres "
      "database, with what --init and --create put there) or a template (a database or a "
      "snapshot), from the server's pool of clones made ahead, and print its URI; with '-- "
      "COMMAND', run COMMAND with PGDATABASE and DATABASE_URL pointing at it and drop it "
      "afterwards.\nUsage: pg_unit_tests createdb [--template NAME] [--uri URI] [--owner PID] "
      "[--label TEXT] [-- COMMAND [ARGS...]]");
  add_options_when_reached(createdb_, [this] {
    createdb_
        ->add_option("--template", template_,
                     "the database or snapshot to clone (default: the server's default database)")
        ->type_name("NAME");
    add_uri(createdb_, uri_);
    createdb_
        ->add_option(
            "--strategy", strategy_,
            "auto (from the pool), wal_log or file_copy (cloned at once, without the pool)")
        ->type_name("STRATEGY");
    createdb_
        ->add_option("--owner", owner_,
                     "drop the database when the process PID ends (default: it stays until dropdb "
                     "or until the server stops)")
        ->check(CLI::PositiveNumber)
        ->type_name("PID");
    createdb_->add_option("--label", label_, "a name for it in pg_unit_tests list (a test's name)")
        ->type_name("TEXT");
  });

  dropdb_ = app.add_subcommand(
      "dropdb", "drop a database that createdb handed out (closing its connections)");
  add_options_when_reached(dropdb_, [this] {
    dropdb_->add_option("target", name_, "the URI createdb printed, or the database name")
        ->required()
        ->type_name("URI|NAME");
    add_uri(dropdb_, uri_);
  });
}

std::optional<int> DatabaseCommands::run(const std::vector<std::string>& command) {
  if (*snapshot_) {
    const std::string uri = resolve_uri(uri_);
    if (*save_) snapshot::save(uri, name_, parse_clone_strategy(strategy_));
    if (*restore_) snapshot::restore(uri, name_, parse_clone_strategy(strategy_));
    if (*drop_) snapshot::drop(uri, name_);
    if (*list_) {
      const auto snapshots = snapshot::list(uri);
      if (json_) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& s : snapshots) {
          out.push_back({{"name", s.name},
                         {"database", s.database},
                         {"source", s.source},
                         {"bytes", s.bytes}});
        }
        std::printf("%s\n", out.dump(2).c_str());
      } else {
        for (const auto& s : snapshots) {
          std::printf("%-24s of %-24s %8.1f MiB\n", s.name.c_str(), s.source.c_str(),
                      static_cast<double>(s.bytes) / (1 << 20));
        }
      }
    }
    return 0;
  }
  if (*createdb_) {
    const std::string uri = resolve_uri(uri_);
    DatabaseOptions o;
    o.template_name = template_;
    o.strategy = parse_clone_strategy(strategy_);
    o.label = label_;
    // With a command, this process owns it; alone, it outlives us unless --owner says otherwise.
    o.owner_pid = command.empty() ? owner_ : -1;
    Database db = Database::create(uri, o);
    if (command.empty()) {
      std::printf("%s\n", db.uri().c_str());
      std::fflush(stdout);
      db.release();  // removed by `pg_unit_tests dropdb URI`, or with the server
      return 0;
    }
    const int status = run_command(command, connection_environment(db.uri()));
    db.drop();
    return status;
  }
  if (*dropdb_) {
    // A URI createdb printed names the server and the database; a name needs the server's URI.
    const bool is_uri = name_.find("://") != std::string::npos;
    const std::string uri = is_uri ? name_ : with_database(resolve_uri(uri_), name_);
    if (!drop_database(uri)) {
      throw Error(ExitCode::kDatabase, fmt::format("dropdb: no database '{}'", name_));
    }
    return 0;
  }
  return std::nullopt;
}

}  // namespace pg_unit_tests::cli
