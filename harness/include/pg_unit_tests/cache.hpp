// The cache behind the fast path: templates (initdb output, once per configuration), spare copies
// of them, and extension overlays. See README.md, "How the fast path works".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cache {

struct Item {
  std::string kind;  // template, spare, overlay
  std::string key;
  std::string path;
  std::uintmax_t bytes = 0;
  std::string detail;
};

struct Status {
  std::string directory;   // the base directory (cache/ and run/ are inside)
  bool in_memory = false;  // on tmpfs
  std::vector<Item> items;
  std::vector<ServerInfo> servers;
};

// Builds the template (and spare copies, and the overlay) that start() with these options uses.
void warm(const ServerOptions& options = {});
Status status();
// Removes templates, spares and overlays that no running server uses; returns what went.
std::vector<Item> clear();

}  // namespace pg_unit_tests::cache
