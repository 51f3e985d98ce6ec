// --temp-config files, read as the postmaster reads postgresql.conf lines.
#include "regress/config.hpp"

#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/regress.hpp"

namespace pg_unit_tests::regress::detail {

namespace fs = std::filesystem;

std::vector<std::string> read_temp_config(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ExitCode::kUsage,
                fmt::format("could not read --temp-config file \"{}\"", file.string()));
  }
  std::vector<std::string> settings;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    size_t i = 0;
    auto skip_space = [&] {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    };
    skip_space();
    if (i == line.size() || line[i] == '#') continue;
    const size_t name_start = i;
    while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) ||
                               line[i] == '_' || line[i] == '.')) {
      ++i;
    }
    const std::string name = line.substr(name_start, i - name_start);
    skip_space();
    if (i < line.size() && line[i] == '=') ++i;
    skip_space();
    std::string value;
    if (i < line.size() && line[i] == '\'') {
      for (++i; i < line.size(); ++i) {
        if (line[i] == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
          value += '\'';
          ++i;
        } else if (line[i] == '\\' && i + 1 < line.size()) {
          value += line[++i];
        } else if (line[i] == '\'') {
          break;
        } else {
          value += line[i];
        }
      }
    } else {
      while (i < line.size() && line[i] != '#' &&
             !std::isspace(static_cast<unsigned char>(line[i]))) {
        value += line[i++];
      }
    }
    if (name.empty()) {
      throw Error(ExitCode::kUsage, fmt::format("--temp-config \"{}\" line {}: not a setting: {}",
                                                file.string(), number, line.substr(0, 80)));
    }
    std::string setting = name;
    setting += '=';
    setting += value;
    settings.push_back(std::move(setting));
  }
  return settings;
}

fs::path absolute_dir(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(dir.empty() ? "." : dir, ec).lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

}  // namespace pg_unit_tests::regress::detail

namespace pg_unit_tests::regress {

std::vector<std::string> temp_instance_settings() {
  return {
      "synchronous_commit=on",  // pg_walinspect reads WAL up to the flush position
      "full_page_writes=on",
      "wal_level=replica",  // replication slots, and WAL records minimal level skips
      "max_wal_senders=10",
      "max_prepared_transactions=2",  // set by pg_regress (test_decoding's prepared, twophase)
      "max_connections=100",
      "shared_buffers=128MB",  // EXPLAIN (BUFFERS), ring buffers for large scans
      "autovacuum=on",
  };
}

}  // namespace pg_unit_tests::regress
