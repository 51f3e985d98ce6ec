// `pg_unit_tests regress`: its options (pg_regress's, and ours) and the command over the library.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "pg_unit_tests/regress.hpp"

namespace pg_unit_tests::cli {

struct RegressArgs {
  regress::Options options;
  StartArgs server;                     // --extension, -o, --freeze, --stock, --locale
  std::vector<std::string> pg_configs;  // --pg-config, repeatable: a version matrix
  bool tap = false;
  std::string junit, json;
  std::string dbname;  // --dbname a,b: as in pg_regress, the last --dbname replaces earlier ones
  bool tap_tests = false;
  std::vector<std::string> command;  // after "--": with --tap-tests, run instead of prove
};

void add_regress_options(CLI::App* cmd, RegressArgs& args);

// "a b:c" -> {a, b, c}: the installations of $PG_CONFIGS.
std::vector<std::string> split_pg_configs(const std::string& list);

// The library's options from the parsed command line (the installations: --pg-config, else
// $PG_CONFIGS; one of them goes to server.pg_config). Throws Error(kUsage).
regress::Options library_options(const RegressArgs& args);

// Runs a pg_regress suite; exit 0 all passed, 1 a test failed, 2 could not run (any Error).
int regress(RegressArgs& args);

}  // namespace pg_unit_tests::cli
