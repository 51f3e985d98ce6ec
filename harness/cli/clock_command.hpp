// The CLI's clock command: pg_unit_tests clock freeze|travel|advance|release|list. Kept apart from
// commands.cpp so that main.cpp only registers it and dispatches.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace pg_unit_tests::cli {

class ClockCommand {
 public:
  // Adds the subcommand to app.
  explicit ClockCommand(CLI::App& app);
  // Runs it if it was chosen (the exit status), nullopt otherwise; `after_dashes`: the words
  // after "--" (a negative interval). Throws pg_unit_tests::Error.
  std::optional<int> run(const std::vector<std::string>& after_dashes);

 private:
  int run_on(const std::string& uri);

  CLI::App* clock_ = nullptr;
  CLI::App* freeze_ = nullptr;
  CLI::App* travel_ = nullptr;
  CLI::App* advance_ = nullptr;
  CLI::App* release_ = nullptr;
  CLI::App* list_ = nullptr;
  std::string uri_, database_, value_;
  std::vector<std::string> words_;
  bool server_ = false;
  bool json_ = false;
};

}  // namespace pg_unit_tests::cli
