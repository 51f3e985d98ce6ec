// Where the harness keeps its files. One base directory per server user (0700):
//   <base>/cache/  templates (tmpl-*), spare data directories (spare-*), extension overlays
//   (overlay-*) <base>/run/    one private directory per running server: socket, data/,
//   postgres.log, server.json
// The base is pg_unit_tests-<uid> under $PG_UNIT_TESTS_DIR if set, else under /dev/shm (RAM), else
// under $TMPDIR or /tmp.
#pragma once

#include <filesystem>

#include "platform/user.hpp"

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

struct Layout {
  fs::path base;
  fs::path cache;
  fs::path run;
  platform::ServerUser user;

  // Resolves and creates the directories, owned by the server user. Throws Error(kFilesystem).
  static Layout prepare();
  // Resolves without creating anything (for status, list, stop).
  static Layout locate();
};

}  // namespace pg_unit_tests::cluster
