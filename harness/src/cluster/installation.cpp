#include "pg_unit_tests/installation.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Debian keeps each major version under /usr/lib/postgresql/N; take the newest with a server.
fs::path newest_debian_pg_config() {
  std::error_code ec;
  int best = -1;
  fs::path found;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const int v = std::stoi(name);
    if (v > best && fs::exists(e.path() / "bin" / "pg_config") &&
        fs::exists(e.path() / "bin" / "postgres")) {
      best = v;
      found = e.path() / "bin" / "pg_config";
    }
  }
  return found;
}

}  // namespace

Installation Installation::find(const std::string& pg_config) {
  std::string origin;
  const fs::path config = locate(pg_config, &origin);
  return describe(config, origin);
}

fs::path Installation::locate(const std::string& pg_config, std::string* origin_out) {
  fs::path config;
  std::string origin;
  if (!pg_config.empty()) {
    config = pg_config;
    origin = "--pg-config";
  } else if (const char* env = std::getenv("PG_CONFIG"); env && *env) {
    config = env;
    origin = "PG_CONFIG";
  } else {
    // Debian's /usr/bin/pg_config belongs to libpq-dev and may not match a server; prefer the
    // newest server installation and fall back to PATH.
    config = newest_debian_pg_config();
    origin = "the newest /usr/lib/postgresql/*";
    if (config.empty()) {
      config = platform::find_on_path("pg_config");
      origin = "PATH";
    }
  }
  if (config.empty()) {
    throw Error(
        ExitCode::kInstallation,
        "no PostgreSQL installation found (no pg_config on PATH or in /usr/lib/postgresql): "
        "install postgresql-15 and postgresql-server-dev-15, or pass --pg-config PATH");
  }
  if (origin_out) *origin_out = origin;
  return config;
}

Installation Installation::describe(const fs::path& config, const std::string& origin) {
  if (access(config.c_str(), X_OK) != 0) {
    throw Error(ExitCode::kInstallation,
                fmt::format("pg_config '{}' (from {}) is missing or not executable: pass "
                            "--pg-config with the path of an installation's pg_config",
                            config.string(), origin));
  }
  platform::RunResult r =
      platform::run({config.string(), "--bindir", "--sharedir", "--pkglibdir", "--version"});
  if (r.status != 0) {
    throw Error(ExitCode::kInstallation,
                fmt::format("'{} --bindir' failed ({}): is it a PostgreSQL pg_config?",
                            config.string(), trim(r.output)));
  }
  Installation inst;
  inst.pg_config = config;
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < r.output.size()) {
    size_t end = r.output.find('\n', start);
    if (end == std::string::npos) end = r.output.size();
    lines.push_back(trim(r.output.substr(start, end - start)));
    start = end + 1;
  }
  if (lines.size() < 4 || lines[3].rfind("PostgreSQL ", 0) != 0) {
    throw Error(ExitCode::kInstallation,
                fmt::format("'{}' did not answer like pg_config: pass --pg-config with the path of "
                            "an installation's pg_config",
                            config.string()));
  }
  inst.bindir = lines[0];
  inst.sharedir = lines[1];
  inst.pkglibdir = lines[2];
  std::string v = lines[3].substr(11);
  inst.version = v.substr(0, v.find(' '));
  inst.major = std::atoi(inst.version.c_str());
  for (const char* tool : {"postgres", "initdb", "pg_resetwal"}) {
    if (access(inst.bin(tool).c_str(), X_OK) != 0) {
      throw Error(ExitCode::kInstallation,
                  fmt::format("the PostgreSQL installation in {} has no '{}' binary: install the "
                              "server package (postgresql-{}) or pass another --pg-config",
                              inst.bindir.string(), tool, inst.major));
    }
  }
  return inst;
}

}  // namespace pg_unit_tests
