// The cache behind the fast path: templates (initdb output, once per configuration), spare copies
// of them, and extension overlays. See README.md, "How the fast path works".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cache {

struct Item {
  // template, migrated (a template with --init applied), spare (data directory), overlay, staging
  // (built --extension), build (the pg_unit_tests extension built for an installation), keeper
  // (under root: the keeper and pool programs copied for the server user), server (pre-started
  // spare)
  std::string kind;
  std::string key;
  std::string path;
  std::uintmax_t bytes = 0;
  std::string detail;
  std::string version;  // the PostgreSQL version it is for (templates, spares, builds)
  // migrated: the key's sources (ServerOptions::init files in order, init_command and the
  // directory it ran in, init_key paths) and when a start last used it (seconds since the epoch)
  std::vector<std::string> init_files{};
  std::string init_command{}, init_directory{};
  std::vector<std::string> init_key{};
  long long last_used = 0;
};

struct Status {
  std::string directory;   // the base directory (cache/ and run/ are inside)
  bool in_memory = false;  // on tmpfs
  std::vector<Item> items;
  std::vector<ServerInfo> servers;
};

// Builds the template (and spare copies, and the overlay) that start() with these options uses, and
// pre-starts `servers` spare servers of that configuration: a start that matches claims one in a
// few milliseconds, and the pool refills itself. A spare unclaimed for PG_UNIT_TESTS_SPARE_IDLE
// seconds (default 600) retires; `clear` stops them at once. TCP servers and --create are not
// pooled.
void warm(const ServerOptions& options = {}, int servers = 0);
Status status();
// Removes templates, migrated templates, spares and overlays that no running server uses; returns
// what went.
std::vector<Item> clear();

}  // namespace pg_unit_tests::cache
