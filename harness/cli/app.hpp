// The command line of pg_unit_tests: every command and option (CLI11), parsing, and dispatch.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/clock_command.hpp"
#include "cli/commands.hpp"
#include "cli/database_commands.hpp"
#include "cli/regress_command.hpp"

namespace pg_unit_tests::cli {

class App {
 public:
  App();
  // Parses the command line. Returns the exit code when that is all there was to do (help and
  // version printed on `out`, a usage error on `err`), nullopt when run() should follow.
  std::optional<int> parse(int argc, const char* const* argv, std::FILE* out = stdout,
                           std::FILE* err = stderr);
  // Runs the command parsed; an error is one line on `err` and its exit code.
  int run(std::FILE* err = stderr);

  const StartArgs& start_args() const { return start_args_; }
  const std::vector<std::string>& command() const { return command_; }

 private:
  CLI::App app_;
  CLI::App *start_ = nullptr, *stop_ = nullptr, *exec_ = nullptr, *regress_ = nullptr,
           *list_ = nullptr, *warm_ = nullptr, *status_ = nullptr, *clear_ = nullptr;
  StartArgs start_args_;
  RegressArgs regress_args_;
  bool json_ = false;
  bool env_ = false;        // start --env
  int exec_databases_ = 0;  // exec --databases N
  std::vector<std::string> stop_targets_;
  bool stop_all_ = false;
  int spare_servers_ = 0;
  std::vector<std::string> command_;  // what followed "--"
  std::optional<DatabaseCommands> database_commands_;
  std::optional<ClockCommand> clock_command_;
};

// The program's main().
int main(int argc, char** argv);

}  // namespace pg_unit_tests::cli
