// The CLI's commands, each a few lines over the library.
#pragma once

#include <string>
#include <vector>

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

int start(const StartArgs& args, bool json);
int stop(const std::vector<std::string>& targets, bool all);
int exec(const StartArgs& args, const std::vector<std::string>& command);
int list(bool json);
int cache_warm(const StartArgs& args, int servers);
int cache_status(bool json);
int cache_clear();

}  // namespace pg_unit_tests::cli
