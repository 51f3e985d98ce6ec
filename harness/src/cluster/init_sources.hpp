// The sources of a migrated template (migration.hpp): the --init files and directories, the
// --init-command and its directory, the --init-key paths, resolved against the current directory;
// and their digest, which keys the template.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

// What prepares a migrated template, resolved against the current directory.
struct InitSources {
  std::vector<fs::path> files;  // SQL files in the order psql applies them (absolute)
  std::string command;
  std::vector<fs::path> key_paths;  // as given, resolved (absolute)
  fs::path directory;               // where psql and the command run
  bool empty() const { return files.empty() && command.empty(); }
};

// Throws Error(kUsage) for a missing path, a directory without *.sql files, or --init-key alone.
InitSources resolve_init(const ServerOptions& options);

// SHA-256 (hex) of the sources: the files' names and contents in order, the command and its
// directory, the key paths' relative names and contents.
std::string init_digest(const InitSources& sources);

}  // namespace pg_unit_tests::cluster
