// The CLI's database commands: snapshot save|restore|list|drop, createdb, dropdb. Kept apart from
// commands.cpp so that main.cpp only registers them and dispatches.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace pg_unit_tests::cli {

class DatabaseCommands {
 public:
  // Adds the subcommands to app.
  explicit DatabaseCommands(CLI::App& app);
  // Runs the subcommand that was parsed, with `command` (what followed "--"); nullopt when none
  // of these was chosen. Throws pg_unit_tests::Error.
  std::optional<int> run(const std::vector<std::string>& command);

 private:
  CLI::App* snapshot_ = nullptr;
  CLI::App* save_ = nullptr;
  CLI::App* restore_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* drop_ = nullptr;
  CLI::App* createdb_ = nullptr;
  CLI::App* dropdb_ = nullptr;
  std::string uri_, name_, strategy_ = "auto", template_;
  bool json_ = false;
  int owner_ = 0;      // createdb --owner PID
  std::string label_;  // createdb --label TEXT
};

}  // namespace pg_unit_tests::cli
