#include "cluster/keeper_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cluster/template_cache.hpp"
#include "platform/dir.hpp"
#include "platform/fs.hpp"
#include "platform/trace.hpp"

#ifndef PGUT_KEEPER_RELATIVE_DIR
#define PGUT_KEEPER_RELATIVE_DIR "../libexec"
#endif
#ifndef PGUT_KEEPER_INSTALL_DIR
#define PGUT_KEEPER_INSTALL_DIR ""
#endif

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

fs::path keeper_executable() {
  if (const char* env = std::getenv("PG_UNIT_TESTS_KEEPER"); env && *env) {
    if (access(env, X_OK) != 0) {
      throw Error(ExitCode::kInstallation,
                  fmt::format("PG_UNIT_TESTS_KEEPER={} is not an executable: point it at the "
                              "pg_unit_tests-keeper program, or unset it",
                              env));
    }
    return env;
  }
  const fs::path self = platform::self_executable();
  fs::path beside =
      (self.parent_path() / PGUT_KEEPER_RELATIVE_DIR / kKeeperExecutable).lexically_normal();
  if (access(beside.c_str(), X_OK) == 0) return beside;
  fs::path installed = fs::path(PGUT_KEEPER_INSTALL_DIR) / kKeeperExecutable;
  if (*PGUT_KEEPER_INSTALL_DIR && access(installed.c_str(), X_OK) == 0) return installed;
  throw Error(ExitCode::kInstallation,
              fmt::format("the program that runs each server ({}) was not found at {}{}: install "
                          "pg_unit_tests (make install) or set PG_UNIT_TESTS_KEEPER to its path",
                          kKeeperExecutable, beside.string(),
                          *PGUT_KEEPER_INSTALL_DIR ? " or " + installed.string() : ""));
}

namespace {

// The database pool: the keeper starts it from beside itself (harness/src/keeper/keeper.cpp).
constexpr const char* kPoolExecutable = "pg_unit_tests-pool";

// Nobody but us can change it: ours, and no write permission for anyone else.
bool ours(const struct stat& st, mode_t type) {
  return (st.st_mode & S_IFMT) == type && st.st_uid == geteuid() && (st.st_mode & 022) == 0;
}

// The copy `name` in build/ is complete and trusted: our directory, open to the server user,
// holding our regular files of the given sizes, executable by everyone.
bool trusted_copy(const platform::Dir& build, const std::string& name,
                  const std::vector<std::pair<std::string, off_t>>& files) {
  const auto dir_st = build.stat(name);
  if (!dir_st || !ours(*dir_st, S_IFDIR) || (dir_st->st_mode & 0755) != 0755) return false;
  const auto dir = build.open_dir(name);
  if (!dir) return false;
  for (const auto& [file, size] : files) {
    const auto st = dir->stat(file);
    if (!st || !ours(*st, S_IFREG) || (st->st_mode & 0755) != 0755 || st->st_size != size) {
      return false;
    }
  }
  return true;
}

// A copy chosen or made this recently may be about to be exec'd by the start that chose it (a
// spare's keeper is launched without waiting for it): not collected at the next copy, locked or
// not. (`cache clear` needs no grace: no start is under way while it runs.)
constexpr time_t kKeeperCopyGrace = 60;

// The same directory still: `name` in `dir` is what `lock` holds (it was not moved away meanwhile).
bool same_directory(const platform::Dir& dir, const std::string& name,
                    const platform::FileLock& lock) {
  struct stat held {};
  const auto now = dir.stat(name);
  return now && fstat(lock.fd(), &held) == 0 && held.st_dev == now->st_dev &&
         held.st_ino == now->st_ino;
}

// The copy `name`, held shared (so that it cannot be removed while a start uses it), if it is
// still that directory once held and trusted.
std::optional<platform::FileLock> hold_if_trusted(
    const platform::Dir& build, const std::string& name,
    const std::vector<std::pair<std::string, off_t>>& files) {
  platform::FileLock lock = platform::FileLock::directory_shared(build, name);
  if (!same_directory(build, name, lock) || !trusted_copy(build, name, files)) return std::nullopt;
  return lock;
}

}  // namespace

std::vector<std::string> collect_keeper_copies(const Layout& layout, const std::string& keep,
                                               bool grace) {
  std::vector<std::string> removed;
  if (!layout.build_dir) return removed;
  const platform::Dir& build = *layout.build_dir;
  for (const auto& name : build.entries()) {
    if (name == keep || name.rfind("keeper-", 0) != 0) continue;
    const auto st = build.stat(name);
    if (!st || !S_ISDIR(st->st_mode)) continue;
    if (grace && time(nullptr) - st->st_mtime < kKeeperCopyGrace) continue;
    if (name.find('.') != std::string::npos) {
      // keeper-*.tmp-PID or .trash-PID of a start that was killed while it copied or removed.
      build.remove_tree(name);
      continue;
    }
    // Every program running from the copy holds this lock shared (the keeper's main(); a start
    // from the moment it chose the copy): held exclusively, nobody runs from it or can choose it.
    const auto lock = platform::FileLock::directory_try_exclusive(build, name);
    if (!lock.held() || !same_directory(build, name, lock)) continue;
    // Out of the way first (one rename), so that no start picks it while it goes.
    const std::string trash = fmt::format("{}.trash-{}", name, getpid());
    if (build.rename(name, trash)) {
      build.remove_tree(trash);
      removed.push_back(name);
    }
  }
  return removed;
}

// Why a copy. Root's build or installation may sit where the server user cannot enter (a clone
// under /root, mode 0700), while the keeper runs as that user: it could not be exec'd, nor could
// it start the pool that it finds beside itself (/proc/self/exe). Starting the keeper as root and
// dropping privileges there would reach the keeper but not the pool, and would run more code as
// root. So root copies both programs into build/ (root's, open to the server user's group only:
// layout.hpp), as it copies postgres into an overlay. One directory per version of the programs,
// named by their identity (device, inode, size, modification time: a rebuild or a reinstall
// changes it), so each version is copied once; hashing megabytes of binaries on every start would
// cost the fast path. The copy is made through descriptors under a temporary name and renamed
// into place, so nobody sees half of it; an existing one is used only when it and its files are
// root's, writable by nobody else, and of the sources' sizes, else it is replaced.
fs::path keeper_program(const Layout& layout, platform::FileLock* hold) {
  fs::path keeper = keeper_executable();
  if (!layout.user.switch_to || !layout.build_dir) return keeper;
  const platform::Dir& build = *layout.build_dir;
  struct Source {
    std::string name;
    platform::Fd fd;
    struct stat st;
  };
  std::vector<Source> sources;
  std::string identity;
  for (const auto& [program, copy_name] :
       {std::pair{keeper, kKeeperExecutable},
        std::pair{keeper.parent_path() / kPoolExecutable, kPoolExecutable}}) {
    platform::Fd fd(open(program.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      // A keeper without its pool still serves servers (createdb says what is missing).
      if (program != keeper && errno == ENOENT) continue;
      platform::throw_filesystem_error("read", program, errno);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) platform::throw_filesystem_error("read", program, errno);
    identity += fmt::format("{}|{}|{}|{}|{}.{}\n", program.string(), st.st_dev, st.st_ino,
                            st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    sources.push_back(Source{copy_name, std::move(fd), st});
  }
  const std::string name = "keeper-" + stable_hash(identity);
  std::vector<std::pair<std::string, off_t>> files;
  files.reserve(sources.size());
  for (const auto& s : sources) files.emplace_back(s.name, s.st.st_size);
  fs::path copied = build / name / kKeeperExecutable;
  // Its last use first (collect_keeper_copies() leaves it alone for a while), then held shared
  // (it cannot be removed while we start from it), then checked.
  if (build.stat(name)) {
    utimensat(build.fd(), name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
    if (auto held = hold_if_trusted(build, name, files)) {
      if (hold) *hold = std::move(*held);
      return copied;
    }
  }

  const std::string tmp = fmt::format("{}.tmp-{}", name, getpid());
  build.remove_tree(tmp);
  auto dir = build.make_dir(tmp, 0700);
  if (!dir) platform::throw_filesystem_error("create", build / tmp, EEXIST);
  // Held from before it is published: the same directory under its final name.
  platform::FileLock lock = platform::FileLock::directory_shared(build, tmp);
  try {
    for (const auto& s : sources)
      platform::copy_file(s.fd.get(), dir->fd(), s.name, 0755, build / tmp);
    dir->chmod(0755);
  } catch (...) {
    build.remove_tree(tmp);
    throw;
  }
  if (!build.rename(tmp, name)) {
    // Another start made it at the same moment (rename(2) does not replace a full directory).
    if (auto held = hold_if_trusted(build, name, files)) {
      build.remove_tree(tmp);
      if (hold) *hold = std::move(*held);
      return copied;
    }
    // A damaged copy is in the way: out of it, then ours.
    const std::string trash = fmt::format("{}.trash-{}", name, getpid());
    if (build.rename(name, trash)) build.remove_tree(trash);
    if (!build.rename(tmp, name)) {
      const int err = errno;
      build.remove_tree(tmp);
      platform::throw_filesystem_error("create", build / name, err);
    }
  }
  platform::trace("keeper program copied");
  // A rebuild made this copy: the earlier ones go once nothing runs from them (44 MB each as make
  // builds them, often in memory under /dev/shm).
  collect_keeper_copies(layout, name, true);
  if (hold) *hold = std::move(lock);
  return copied;
}

std::optional<KeeperConnection> KeeperConnection::connect(const fs::path& server_directory,
                                                          uid_t uid, int* error) {
  platform::Fd fd = platform::connect_unix(server_directory / kKeeperSocket);
  if (!fd) {
    if (error) *error = errno;
    return std::nullopt;
  }
  // Anyone who can write there could listen there; only a keeper of the server user counts.
  const auto peer = platform::peer_credentials(fd.get());
  if (!peer || peer->uid != uid) {
    if (error) *error = EPERM;
    return std::nullopt;
  }
  return KeeperConnection(std::move(fd));
}

std::optional<std::string> KeeperConnection::receive(
    std::optional<std::chrono::milliseconds> timeout) {
  return reader_.next(timeout);
}

Reply KeeperConnection::request(const Request& r,
                                std::optional<std::chrono::milliseconds> timeout) {
  if (!platform::send_line(fd_.get(), encode(r))) {
    throw Error(ExitCode::kNoSuchServer, "the server's keeper is gone");
  }
  const auto line = receive(timeout);
  if (!line) throw Error(ExitCode::kNoSuchServer, "the server's keeper did not answer");
  return decode_reply(*line);
}

void KeeperConnection::stop() {
  if (!fd_) return;
  // The answer comes once postgres has exited and the directory is removed; the connection ends
  // when the keeper itself does.
  if (platform::send_line(fd_.get(), encode(Request{"stop"}))) {
    while (receive(std::nullopt)) {
    }
  }
  fd_.reset();
}

Launched launch_keeper(const KeeperSpec& spec, const std::optional<platform::Credentials>& as,
                       const fs::path& program) {
  SpawnedKeeper k = spawn_keeper(spec, as, program);
  platform::trace("keeper started");
  KeeperConnection connection(std::move(k.connection));
  const auto line = connection.receive(std::nullopt);
  platform::trace("keeper reported");
  if (!line) {
    const int status = spec.owned ? platform::wait_for(k.pid) : -1;
    throw Error(ExitCode::kSystem,
                fmt::format("the server's keeper ({}) ended without a report{}", program.string(),
                            status >= 0 ? fmt::format(" (exit status {})", status) : ""));
  }
  Reply reply = decode_reply(*line);
  if (!reply.ok) {
    if (spec.owned) platform::wait_for(k.pid);
    reply.check();
  }
  if (!reply.status) throw Error(ExitCode::kSystem, "the server's keeper reported no status");
  return Launched{std::move(*reply.status), std::move(connection), k.pid};
}

}  // namespace pg_unit_tests::cluster
