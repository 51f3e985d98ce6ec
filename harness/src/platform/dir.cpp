#include "platform/dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/fs.hpp"

namespace pg_unit_tests::platform {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kTraverseFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// ELOOP: the last component is a symlink; ENOTDIR: it is a file (or a symlink, with O_DIRECTORY).
[[noreturn]] void not_a_directory(const fs::path& path) {
  throw_filesystem_error("open", path, ENOTDIR);
}

}  // namespace

std::optional<Dir> Dir::open(const fs::path& absolute, bool traverse_only) {
  if (!absolute.is_absolute()) throw_filesystem_error("open", absolute, EINVAL);
  std::vector<fs::path> parts;
  for (const auto& part : absolute.relative_path()) {
    if (!part.empty() && part != ".") parts.push_back(part);
  }
  Fd fd(::open("/", parts.empty() && !traverse_only ? kDirFlags : kTraverseFlags));
  if (!fd) throw_filesystem_error("open", "/", errno);
  fs::path at = "/";
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& part = parts[i];
    at /= part;
    const bool last = i + 1 == parts.size();
    Fd next(openat(fd.get(), part.c_str(), last && !traverse_only ? kDirFlags : kTraverseFlags));
    if (!next) {
      if (errno == ENOENT) return std::nullopt;
      if (errno == ELOOP || errno == ENOTDIR) not_a_directory(at);
      throw_filesystem_error("open", at, errno);
    }
    fd = std::move(next);
  }
  return Dir(std::move(fd), absolute.lexically_normal());
}

std::optional<Dir> Dir::open_dir(const std::string& name, bool traverse_only) const {
  Fd fd(openat(fd_.get(), name.c_str(), traverse_only ? kTraverseFlags : kDirFlags));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP || errno == ENOTDIR) not_a_directory(path_ / name);
    throw_filesystem_error("open", path_ / name, errno);
  }
  return Dir(std::move(fd), path_ / name);
}

std::optional<Dir> Dir::make_dir(const std::string& name, mode_t mode) const {
  if (mkdirat(fd_.get(), name.c_str(), mode) != 0) {
    if (errno == EEXIST) return std::nullopt;
    throw_filesystem_error("create", path_ / name, errno);
  }
  // Nobody but us can have replaced it meanwhile where it matters: callers make directories only
  // in directories that no other user can write (or that are sticky), and check what they open.
  auto made = open_dir(name);
  if (!made) throw_filesystem_error("open", path_ / name, ENOENT);
  return made;
}

struct stat Dir::stat() const {
  struct stat st {};
  if (fstat(fd_.get(), &st) != 0) throw_filesystem_error("stat", path_, errno);
  return st;
}

void Dir::chown(uid_t uid, gid_t gid) const {
  if (fchown(fd_.get(), uid, gid) != 0) throw_filesystem_error("change the owner of", path_, errno);
}

void Dir::chmod(mode_t mode) const {
  if (fchmod(fd_.get(), mode) != 0) throw_filesystem_error("chmod", path_, errno);
}

std::optional<struct stat> Dir::stat(const std::string& name) const {
  struct stat st {};
  if (fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return st;
}

std::vector<std::string> Dir::entries() const {
  std::vector<std::string> out;
  DIR* d = fdopendir(dup(fd_.get()));
  if (!d) return out;
  rewinddir(d);  // the duplicate shares the offset of earlier listings
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      out.emplace_back(e->d_name);
    }
  }
  closedir(d);
  return out;
}

Fd Dir::open_file(const std::string& name, int flags, mode_t mode) const {
  return Fd(openat(fd_.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
}

std::optional<std::string> Dir::read_file(const std::string& name) const {
  Fd fd = open_file(name, O_RDONLY | O_NONBLOCK);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return read_all(fd.get());
}

void Dir::write_file(const std::string& name, const std::string& content, mode_t mode) const {
  const std::string tmp = name + ".tmp-" + random_hex(4);
  Fd fd = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (!fd) throw_filesystem_error("create", path_ / tmp, errno);
  if (!write_all(fd.get(), content) || fchmod(fd.get(), mode) != 0) {
    const int e = errno;
    unlinkat(fd_.get(), tmp.c_str(), 0);
    throw_filesystem_error("write", path_ / tmp, e);
  }
  fd.reset();
  if (renameat(fd_.get(), tmp.c_str(), fd_.get(), name.c_str()) != 0) {
    const int e = errno;
    unlinkat(fd_.get(), tmp.c_str(), 0);
    throw_filesystem_error("write", path_ / name, e);
  }
}

bool Dir::rename(const std::string& from, const std::string& to) const {
  return rename(from, *this, to);
}

bool Dir::rename(const std::string& from, const Dir& to_dir, const std::string& to) const {
  return renameat(fd_.get(), from.c_str(), to_dir.fd(), to.c_str()) == 0;
}

bool Dir::unlink(const std::string& name) const {
  return unlinkat(fd_.get(), name.c_str(), 0) == 0;
}

bool Dir::remove_tree(const std::string& name) const noexcept {
  return remove_tree_at(fd_.get(), name.c_str());
}

bool remove_tree_at(int parent_fd, const char* name) noexcept {
  if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return true;
  if (errno != EISDIR) return false;
  // A concurrent writer (a spare copy being finished) can add entries while we empty the
  // directory: go over it a few times before giving up.
  for (int round = 0; round < 5; ++round) {
    Fd dir(openat(parent_fd, name, kDirFlags));
    if (!dir) return errno == ENOENT;
    DIR* d = fdopendir(dup(dir.get()));
    if (!d) return false;
    while (struct dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) {
        remove_tree_at(dir.get(), e->d_name);
      } else {
        unlinkat(dir.get(), e->d_name, 0);
      }
    }
    closedir(d);
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return true;
    if (errno != ENOTEMPTY) return false;
  }
  return false;
}

}  // namespace pg_unit_tests::platform
