#include "cluster/layout.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"

namespace pg_unit_tests::cluster {

namespace {

fs::path choose_root() {
  if (const char* dir = std::getenv("PG_UNIT_TESTS_DIR"); dir && *dir) return dir;
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK | X_OK) == 0 &&
      platform::on_tmpfs("/dev/shm")) {
    return "/dev/shm";
  }
  const char* tmp = std::getenv("TMPDIR");
  return (tmp && *tmp) ? tmp : "/tmp";
}

Layout resolve(const platform::ServerUser& user) {
  Layout l;
  l.user = user;
  l.base = choose_root() / fmt::format("pg_unit_tests-{}", user.uid);
  l.cache = l.base / "cache";
  l.run = l.base / "run";
  return l;
}

}  // namespace

Layout Layout::locate() {
  return resolve(platform::server_user());
}

Layout Layout::prepare() {
  Layout l = locate();
  if (l.user.switch_to) {
    // Under root the servers run as another user, who must be able to reach the base directory.
    for (fs::path p = l.base.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      struct stat st;
      if (stat(p.c_str(), &st) == 0 && st.st_uid != l.user.uid && (st.st_mode & S_IXOTH) == 0) {
        throw Error(ExitCode::kFilesystem,
                    fmt::format("the server user '{}' cannot enter {} (mode {:o}): choose a "
                                "PG_UNIT_TESTS_DIR it can reach, or chmod o+x {}",
                                l.user.name, p.string(), st.st_mode & 07777, p.string()));
      }
    }
  }
  // Only the server user (and root) may enter: sockets inside are protected by these modes.
  platform::ensure_directory(l.base, 0700, l.user.uid, l.user.gid);
  platform::ensure_directory(l.cache, 0700, l.user.uid, l.user.gid);
  platform::ensure_directory(l.run, 0700, l.user.uid, l.user.gid);
  return l;
}

}  // namespace pg_unit_tests::cluster
