// Where the harness keeps its files, and why it can trust them.
//
//   <root>/pg_unit_tests-<uid of the caller>/   the base: the caller's, mode 0700 (under root:
//                                                 root-owned, group of the server user, 0710)
//     cache/   the server user's, 0700: templates (tmpl-*), spare data directories (spare-*), pool
//              tokens of pre-started spares (pool-*)
//     run/     the server user's, 0700: one private directory per running server, run by its
//              keeper: sockets, data/, logs
//     build/   the caller's, 0700 (under root: 0750, group of the server user): what the caller
//              builds for servers to read: extension overlays (overlay-*), --extension staging
//              (ext-*), the pg_unit_tests extension built per installation (build-*), the
//              installation memo
//
// <root> is $PG_UNIT_TESTS_DIR if set (it must exist), else /dev/shm (RAM), else $TMPDIR or /tmp.
// The harness runs as root on machines other users share, so nothing here is taken on faith:
// every directory from / down to <root> must belong to root or the caller (or the server user)
// and be writable by nobody else unless it is sticky (/tmp, /dev/shm), and the base and the
// directories in it are created by the harness itself through descriptors (mkdirat, fchown,
// fchmod: never a path that could be swapped between a check and a change) or, when they exist,
// accepted only with the expected owner and no write access for anyone else. A base that is not
// ours is an error (exit 6) that names it and the fix; it is never adopted. Root never writes
// into a directory another user can write: cache/ and run/ are changed by the server user's own
// processes (keepers, initdb), root only through descriptors of directories it opened and checked.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>

#include "platform/dir.hpp"
#include "platform/user.hpp"

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

struct Layout {
  fs::path base, cache, run, build;
  platform::ServerUser user;  // who the servers run as
  uid_t caller = 0;           // who we are
  // The directories, opened and checked (null when locate() found no base).
  std::shared_ptr<const platform::Dir> base_dir, cache_dir, run_dir, build_dir;

  // Resolves, checks and creates the directories. Throws Error(kFilesystem) naming what is wrong.
  static Layout prepare();
  // Resolves and checks without creating anything (for status, list, stop).
  static Layout locate();

  bool exists() const { return static_cast<bool>(base_dir); }
};

}  // namespace pg_unit_tests::cluster
