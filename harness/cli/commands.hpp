// The CLI's commands, each a few lines over the library.
#pragma once

#include <string>
#include <vector>

#include "pg_unit_tests/regress.hpp"
#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cli {

struct StartArgs {
  bool tcp = false;
  long idle_timeout = 60;
  std::vector<std::string> options;  // -o strings, each "-c a=b -c c=d"
  std::string locale, encoding, pg_config, freeze;
  std::vector<std::string> extensions, create;
  bool stock = false;

  ServerOptions to_options() const;
};

// Splits a postgres-style option string ("-c a=b -c 'c=d e'") into name=value settings. Throws
// Error(kUsage) for anything that is not a setting.
std::vector<std::string> parse_option_string(const std::string& options);

struct RegressArgs {
  regress::Options options;
  StartArgs server;  // --extension, -o, --pg-config, --freeze, --stock, --locale
  bool tap = false;
  std::string junit, json;
  std::string dbname;  // --dbname a,b: as in pg_regress, the last --dbname replaces earlier ones
};

int start(const StartArgs& args, bool json);
// Runs a pg_regress suite; exit 0 all passed, 1 a test failed, 2 could not run (any Error).
int regress(RegressArgs& args);
int stop(const std::vector<std::string>& targets, bool all);
int exec(const StartArgs& args, const std::vector<std::string>& command);
int list(bool json);
int cache_warm(const StartArgs& args, int servers);
int cache_status(bool json);
int cache_clear();

}  // namespace pg_unit_tests::cli
