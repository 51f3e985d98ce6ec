// File-system helpers the harness needs beyond std::filesystem: a fast tree copy, atomic writes,
// advisory locks, and private (0700) directories.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "platform/fd.hpp"

namespace pg_unit_tests::platform {

namespace fs = std::filesystem;

// Copies a directory tree (regular files, directories, symlinks), keeping modes. Throws
// Error(kFilesystem) naming the file and the reason (ENOSPC: "the disk is full").
void copy_tree(const fs::path& from, const fs::path& to);

// Copies one regular file to `to` (which must not exist) with `mode`. Throws Error(kFilesystem):
// ENOSPC is "the disk is full".
void copy_file(const fs::path& from, const fs::path& to, mode_t mode);

// Copies the open regular file `from` (from its start) to the new entry `name` of the directory
// `to_dir` (O_EXCL | O_NOFOLLOW: never over a file or through a symlink) with `mode`; `where` is
// that directory's path, for messages. A failed copy leaves nothing. Throws Error(kFilesystem).
void copy_file(int from, int to_dir, const std::string& name, mode_t mode, const fs::path& where);

// Removes a tree through descriptors (symlinks inside are removed, never followed); missing is
// fine. Never throws; false if something could not be removed.
bool remove_tree(const fs::path& path) noexcept;

// Writes a file through a temporary and rename(2), so that readers never see half of it.
void write_file_atomic(const fs::path& path, const std::string& content, mode_t mode = 0600);

std::optional<std::string> read_file(const fs::path& path);

// Reads a descriptor to its end (EINTR retried); stops at the first other error.
std::string read_all(int fd);
// Writes all of `data` (EINTR retried); false (errno set) on failure.
bool write_all(int fd, const std::string& data);

// Throws Error(kFilesystem): "could not WHAT PATH: reason", with a hint for a full disk (exit 6,
// "the disk is full") and for permissions.
[[noreturn]] void throw_filesystem_error(const std::string& what, const fs::path& path, int err);

// The last n non-empty lines of a program's output, joined with " / ", for one-line error messages.
// Lines starting with `skip_prefix` (e.g. make's "make[1]: Entering ...") are left out.
std::string last_lines(const std::string& text, size_t n, const std::string& skip_prefix = {});

class Dir;

// flock(2) on a lock file, released by the destructor (and by the kernel if the process dies).
class FileLock {
 public:
  // Blocks until the exclusive lock is held.
  static FileLock exclusive(const fs::path& path);
  // The same for the lock file `name` in `dir` (opened through its descriptor, never a symlink).
  static FileLock exclusive(const Dir& dir, const std::string& name);
  // Returns an unlocked object if someone else holds it.
  static FileLock try_exclusive(const Dir& dir, const std::string& name);
  // Shared: many holders at once, none while someone holds it exclusively.
  static FileLock shared(const Dir& dir, const std::string& name);
  static FileLock try_shared(const Dir& dir, const std::string& name);
  // On a directory itself (`name` in `dir`, never through a symlink; or by path, a program's own
  // directory): the programs running from a copy of the keeper hold it shared, and whoever removes
  // the copy takes it exclusively first (cluster/keeper_client.cpp).
  static FileLock directory_shared(const Dir& dir, const std::string& name);
  static FileLock directory_shared(const fs::path& path);
  static FileLock directory_try_exclusive(const Dir& dir, const std::string& name);
  bool held() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }

  FileLock() = default;
  explicit FileLock(Fd fd) : fd_(std::move(fd)) {}

 private:
  Fd fd_;
};

// Total size in bytes of the files below path.
std::uintmax_t tree_size(const fs::path& path) noexcept;

// True if the path is on a tmpfs (RAM) file system.
bool on_tmpfs(const fs::path& path);

std::string random_hex(size_t bytes);

}  // namespace pg_unit_tests::platform
