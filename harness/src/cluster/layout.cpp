#include "cluster/layout.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"

namespace pg_unit_tests::cluster {

namespace {

std::string user_name(uid_t uid) {
  const passwd* pw = getpwuid(uid);
  return pw ? fmt::format("{} (uid {})", pw->pw_name, uid) : fmt::format("uid {}", uid);
}

[[noreturn]] void untrusted(const fs::path& path, const std::string& why, const std::string& fix) {
  throw Error(ExitCode::kFilesystem,
              fmt::format("{} {}: the harness keeps nothing where someone else could change it; {}",
                          path.string(), why, fix));
}

fs::path choose_root() {
  if (const char* dir = std::getenv("PG_UNIT_TESTS_DIR"); dir && *dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      throw Error(ExitCode::kFilesystem,
                  fmt::format("PG_UNIT_TESTS_DIR={} is not a directory: create it (mkdir -m 755 "
                              "{}) or unset PG_UNIT_TESTS_DIR",
                              dir, dir));
    }
    return fs::canonical(dir, ec);
  }
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK | X_OK) == 0 &&
      platform::on_tmpfs("/dev/shm")) {
    return "/dev/shm";
  }
  const char* tmp = std::getenv("TMPDIR");
  return fs::canonical((tmp && *tmp) ? tmp : "/tmp", ec);
}

// Opens the root with a descriptor, checking every directory from / down: owned by root, the
// caller or the server user, and writable by nobody else unless sticky (where others cannot move
// or remove what is ours). Under root, the server user must also be able to enter each one.
platform::Dir open_root(const fs::path& root, const platform::ServerUser& user, uid_t caller) {
  fs::path at = "/";
  auto check = [&](const platform::Dir& d) {
    const struct stat st = d.stat();
    const bool trusted_owner = st.st_uid == 0 || st.st_uid == caller || st.st_uid == user.uid;
    if (!trusted_owner) {
      untrusted(at, "belongs to " + user_name(st.st_uid),
                "set PG_UNIT_TESTS_DIR to a directory of your own");
    }
    if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
      untrusted(
          at,
          fmt::format("can be written by other users (mode {:04o}, not sticky)",
                      st.st_mode & 07777),
          fmt::format("chmod go-w {} or set PG_UNIT_TESTS_DIR to another directory", at.string()));
    }
    if (user.switch_to && st.st_uid != user.uid && (st.st_mode & S_IXOTH) == 0) {
      throw Error(ExitCode::kFilesystem,
                  fmt::format("the server user '{}' cannot enter {} (mode {:o}): choose a "
                              "PG_UNIT_TESTS_DIR it can reach, or chmod o+x {}",
                              user.name, at.string(), st.st_mode & 07777, at.string()));
    }
  };
  auto dir = platform::Dir::open("/", true);
  check(*dir);
  for (const auto& part : root.relative_path()) {
    at /= part;
    auto next = dir->open_dir(part.string(), true);
    if (!next) platform::throw_filesystem_error("open", at, ENOENT);
    check(*next);
    dir = std::move(next);
  }
  return std::move(*dir);
}

// The directory `name` in `parent`: created if missing (under a temporary name, owner, group and
// mode set, then renamed into place, so that nobody ever sees it half made); else accepted only
// with that owner and no write access for anyone else (then group and mode are set as expected).
std::shared_ptr<const platform::Dir> ensure(const platform::Dir& parent, const std::string& name,
                                            uid_t owner, gid_t group, mode_t mode, bool create,
                                            const std::string& fix) {
  auto dir = parent.open_dir(name);
  if (!dir && !create) return nullptr;
  if (!dir) {
    const std::string tmp = "." + name + ".new-" + platform::random_hex(4);
    auto made = parent.make_dir(tmp, 0700);
    if (!made) platform::throw_filesystem_error("create", parent / tmp, EEXIST);
    try {
      if (owner != geteuid() || group != static_cast<gid_t>(-1)) made->chown(owner, group);
      made->chmod(mode);
    } catch (...) {
      parent.remove_tree(tmp);
      throw;
    }
    if (renameat2(parent.fd(), tmp.c_str(), parent.fd(), name.c_str(), RENAME_NOREPLACE) != 0) {
      const int e = errno;
      parent.remove_tree(tmp);
      if (e != EEXIST) platform::throw_filesystem_error("create", parent / name, e);
    }
    dir = parent.open_dir(name);  // ours, or the one another harness made meanwhile
    if (!dir) platform::throw_filesystem_error("create", parent / name, ENOENT);
  }
  const struct stat st = dir->stat();
  if (st.st_uid != owner) {
    untrusted(parent / name,
              fmt::format("belongs to {}, not to {}", user_name(st.st_uid), user_name(owner)), fix);
  }
  if ((st.st_mode & 022) != 0) {
    untrusted(parent / name,
              fmt::format("can be written by other users (mode {:04o})", st.st_mode & 07777), fix);
  }
  if (group != static_cast<gid_t>(-1) && st.st_gid != group) dir->chown(owner, group);
  if ((st.st_mode & 07777) != mode) dir->chmod(mode);
  return std::make_shared<const platform::Dir>(std::move(*dir));
}

Layout open(bool create) {
  Layout l;
  l.user = platform::server_user();
  l.caller = geteuid();
  const fs::path root = choose_root();
  l.base = root / fmt::format("pg_unit_tests-{}", l.caller);
  l.cache = l.base / "cache";
  l.run = l.base / "run";
  l.build = l.base / "build";
  const platform::Dir root_dir = open_root(root, l.user, l.caller);
  const bool root_user = l.user.switch_to.has_value();
  const gid_t server_group = root_user ? l.user.gid : static_cast<gid_t>(-1);
  const std::string fix = fmt::format(
      "remove it (rm -rf {}) or set PG_UNIT_TESTS_DIR to a "
      "directory of your own",
      l.base.string());
  // Only the caller (and, under root, the server user's group) may enter the base: the sockets
  // inside are protected by these modes.
  l.base_dir = ensure(root_dir, l.base.filename(), l.caller, server_group, root_user ? 0710 : 0700,
                      create, fix);
  if (!l.base_dir) return l;
  l.cache_dir = ensure(*l.base_dir, "cache", l.user.uid, l.user.gid, 0700, create, fix);
  l.run_dir = ensure(*l.base_dir, "run", l.user.uid, l.user.gid, 0700, create, fix);
  l.build_dir =
      ensure(*l.base_dir, "build", l.caller, server_group, root_user ? 0750 : 0700, create, fix);
  if (!l.cache_dir || !l.run_dir || !l.build_dir) l.base_dir.reset();
  return l;
}

}  // namespace

Layout Layout::locate() {
  return open(false);
}

Layout Layout::prepare() {
  return open(true);
}

}  // namespace pg_unit_tests::cluster
