// Directories reached through descriptors. The harness runs as root on machines that other users
// share, so it never changes a file by a path that someone could swap (for a symlink, say) between
// a check and the change: it opens a directory once (no symlink on the way), checks its owner and
// mode, and from then on names only single entries relative to that descriptor (openat, mkdirat,
// renameat, unlinkat, all with O_NOFOLLOW).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "platform/fd.hpp"

namespace pg_unit_tests::platform {

namespace fs = std::filesystem;

class Dir {
 public:
  Dir() = default;

  // Opens an absolute path component by component with O_NOFOLLOW: a symlink anywhere on the way
  // is refused (ELOOP). nullopt if a component is missing; throws Error(kFilesystem) otherwise.
  // The directories on the way are opened for traversal only (O_PATH: search permission is
  // enough), the last one for reading too unless `traverse_only`.
  static std::optional<Dir> open(const fs::path& absolute, bool traverse_only = false);

  // The subdirectory `name` (one component; a symlink or a file there is an error), or nullopt if
  // there is none. Throws Error(kFilesystem). A directory opened with `traverse_only` can be
  // stat'ed and used as the base of *at() calls, but not listed or chmod'ed.
  std::optional<Dir> open_dir(const std::string& name, bool traverse_only = false) const;
  // Creates the subdirectory (mode, as far as the umask allows; fix it with chmod()) and opens it;
  // nullopt if something of that name exists already (it was not made by us).
  std::optional<Dir> make_dir(const std::string& name, mode_t mode) const;

  explicit operator bool() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  // For messages and for programs that need a path (never used to change anything here).
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  struct stat stat() const;

  // fchown/fchmod of the directory itself.
  void chown(uid_t uid, gid_t gid) const;
  void chmod(mode_t mode) const;

  // lstat of an entry; nullopt if it does not exist.
  std::optional<struct stat> stat(const std::string& name) const;
  bool exists(const std::string& name) const { return stat(name).has_value(); }
  // The names of the entries ("." and ".." left out), unsorted.
  std::vector<std::string> entries() const;

  // Opens a regular file (never through a symlink); an invalid Fd (errno set) on failure.
  Fd open_file(const std::string& name, int flags, mode_t mode = 0600) const;
  std::optional<std::string> read_file(const std::string& name) const;
  // Writes through a temporary entry and renameat(2): readers never see half of it.
  void write_file(const std::string& name, const std::string& content, mode_t mode = 0600) const;

  // renameat(2) within this directory or into `to`; false (errno set) on failure.
  bool rename(const std::string& from, const std::string& to) const;
  bool rename(const std::string& from, const Dir& to_dir, const std::string& to) const;
  // unlinkat(2) of a file, symlink or socket; false (errno set) on failure.
  bool unlink(const std::string& name) const;
  // Removes an entry and everything below it through descriptors (a symlink met on the way is
  // removed, never followed); missing is fine. False if something could not be removed.
  bool remove_tree(const std::string& name) const noexcept;

 private:
  Dir(Fd fd, fs::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Fd fd_;
  fs::path path_;
};

// Removes the tree at `path` (a path opened once, then descriptors all the way down).
bool remove_tree_at(int parent_fd, const char* name) noexcept;

}  // namespace pg_unit_tests::platform
