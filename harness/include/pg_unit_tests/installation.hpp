// A PostgreSQL installation, found through pg_config.
#pragma once

#include <filesystem>
#include <string>

namespace pg_unit_tests {

struct Installation {
  std::filesystem::path pg_config;
  std::filesystem::path bindir;
  std::filesystem::path sharedir;
  std::filesystem::path pkglibdir;
  std::string version;  // "15.20"
  int major = 0;        // 15

  std::filesystem::path bin(const std::string& name) const { return bindir / name; }

  // Finds the installation: `pg_config` if given, else $PG_CONFIG, else `pg_config` on PATH, else
  // the newest /usr/lib/postgresql/*/bin/pg_config (Debian). Checks that the binaries the harness
  // runs are there. Throws Error(kInstallation) with what is missing.
  static Installation find(const std::string& pg_config = {});

  // The pg_config that find() would use, without running it; `origin` says where it came from.
  static std::filesystem::path locate(const std::string& pg_config, std::string* origin = nullptr);
  // Runs that pg_config and checks the binaries.
  static Installation describe(const std::filesystem::path& pg_config, const std::string& origin);
};

}  // namespace pg_unit_tests
