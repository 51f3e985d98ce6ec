#include "platform/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>
#include <linux/magic.h>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "platform/dir.hpp"

namespace pg_unit_tests::platform {

void throw_filesystem_error(const std::string& what, const fs::path& path, int err) {
  const char* hint = err == ENOSPC ? " (the disk is full: free some space or set PG_UNIT_TESTS_DIR)"
                     : err == EACCES
                         ? " (permission denied: set PG_UNIT_TESTS_DIR to a writable directory)"
                         : "";
  throw Error(ExitCode::kFilesystem,
              fmt::format("could not {} {}: {}{}", what, path.string(), std::strerror(err), hint));
}

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw_filesystem_error(what, path, err);
}

void copy_open_file(int in, int to_dir, const char* name, mode_t mode, off_t size,
                    const fs::path& where);

void copy_file(int from_dir, const char* from_name, int to_dir, const char* name, mode_t mode,
               off_t size, const fs::path& where) {
  Fd in(openat(from_dir, from_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in) fail("read", where / from_name, errno);
  copy_open_file(in.get(), to_dir, name, mode, size, where);
}

void copy_open_file(int in, int to_dir, const char* name, mode_t mode, off_t size,
                    const fs::path& where) {
  Fd out(openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777));
  if (!out) fail("create", where / name, errno);
  // A copy that fails is removed: a half-written file is never left.
  struct Remover {
    int dir;
    const char* name;
    bool armed = true;
    ~Remover() {
      if (armed) unlinkat(dir, name, 0);
    }
  } remover{to_dir, name};
  off_t left = size;
  while (left > 0) {
    ssize_t n = copy_file_range(in, nullptr, out.get(), nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      // Fall back to read/write (older kernels, some file systems).
      char buf[1 << 16];
      ssize_t r = read(in, buf, sizeof buf);
      if (r < 0) fail("read", where / name, errno);
      if (r == 0) break;
      for (ssize_t off = 0; off < r;) {
        ssize_t w = write(out.get(), buf + off, static_cast<size_t>(r - off));
        if (w < 0) fail("write", where / name, errno);
        off += w;
      }
      left -= r;
      continue;
    }
    if (n < 0) fail("write", where / name, errno);
    if (n == 0) break;
    left -= n;
  }
  // The umask may have narrowed the mode given to openat.
  fchmod(out.get(), mode & 07777);
  remover.armed = false;
}

// Walks with *at() calls on directory descriptors: about twice as fast as std::filesystem::copy
// on a data directory's thousand small files, which is the critical path of a cold start.
void copy_dir(int from_parent, const char* from_name, int to_parent, const char* to_name,
              mode_t mode, const fs::path& where) {
  Fd from(openat(from_parent, from_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!from) fail("open", where / from_name, errno);
  if (mkdirat(to_parent, to_name, 0700) != 0) fail("create", where / to_name, errno);
  Fd to(openat(to_parent, to_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!to) fail("open", where / to_name, errno);
  const fs::path here = where / to_name;
  DIR* dir = fdopendir(dup(from.get()));
  if (!dir) fail("list", here, errno);
  struct Closer {
    DIR* d;
    ~Closer() { closedir(d); }
  } closer{dir};
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    // A file that vanishes meanwhile fails the copy: the source is being removed (cache clear), and
    // a copy with holes must never be used.
    if (fstatat(from.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      fail("stat", here / e->d_name, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      copy_dir(from.get(), e->d_name, to.get(), e->d_name, st.st_mode, here);
    } else if (S_ISREG(st.st_mode)) {
      copy_file(from.get(), e->d_name, to.get(), e->d_name, st.st_mode, st.st_size, here);
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlinkat(from.get(), e->d_name, target, sizeof target - 1);
      if (n < 0) fail("read link", here / e->d_name, errno);
      target[n] = '\0';
      if (symlinkat(target, to.get(), e->d_name) != 0) fail("create", here / e->d_name, errno);
    }  // sockets, fifos: not copied
  }
  fchmod(to.get(), mode & 07777);
}

}  // namespace

void copy_tree(const fs::path& from, const fs::path& to) {
  struct stat st;
  if (stat(from.c_str(), &st) != 0) fail("read", from, errno);
  copy_dir(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), st.st_mode, {});
}

void copy_file(int from, int to_dir, const std::string& name, mode_t mode, const fs::path& where) {
  struct stat st;
  if (fstat(from, &st) != 0) fail("read", where / name, errno);
  if (!S_ISREG(st.st_mode)) fail("read", where / name, EINVAL);
  if (lseek(from, 0, SEEK_SET) < 0) fail("read", where / name, errno);
  copy_open_file(from, to_dir, name.c_str(), mode, st.st_size, where);
}

void copy_file(const fs::path& from, const fs::path& to, mode_t mode) {
  const auto parent_of = [](const fs::path& p) {
    return p.parent_path().empty() ? fs::path(".") : p.parent_path();
  };
  const Fd from_dir(open(parent_of(from).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!from_dir) fail("read", from, errno);
  const Fd to_dir(open(parent_of(to).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!to_dir) fail("write", to, errno);
  struct stat st;
  if (fstatat(from_dir.get(), from.filename().c_str(), &st, 0) != 0) fail("read", from, errno);
  copy_file(from_dir.get(), from.filename().c_str(), to_dir.get(), to.filename().c_str(), mode,
            st.st_size, parent_of(to));
}

bool remove_tree(const fs::path& path) noexcept {
  const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const Fd dir(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return errno == ENOENT;
  return remove_tree_at(dir.get(), path.filename().c_str());
}

void write_file_atomic(const fs::path& path, const std::string& content, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(getpid());
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) fail("create", tmp, errno);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      int e = errno;
      fd.reset();
      unlink(tmp.c_str());
      fail("write", tmp, e);
    }
    off += static_cast<size_t>(n);
  }
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    fail("write", path, e);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  return out;
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::string> read_file(const fs::path& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  return read_all(fd.get());
}

std::string last_lines(const std::string& text, size_t n, const std::string& skip_prefix) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && (skip_prefix.empty() || line.rfind(skip_prefix, 0) != 0)) {
      lines.push_back(std::move(line));
    }
    start = end + 1;
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    if (!out.empty()) out += " / ";
    out += lines[i];
  }
  return out;
}

FileLock FileLock::exclusive(const fs::path& path) {
  FileLock lock;
  lock.fd_.reset(open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.fd_) fail("open lock file", path, errno);
  while (flock(lock.fd_.get(), LOCK_EX) != 0) {
    if (errno != EINTR) fail("lock", path, errno);
  }
  return lock;
}

namespace {

FileLock lock_at(Fd fd, const fs::path& path, int operation, bool wait) {
  if (!fd) {
    if (!wait) return FileLock();
    fail("open lock file", path, errno);
  }
  while (flock(fd.get(), operation | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (!wait) return FileLock();
    fail("lock", path, errno);
  }
  return FileLock(std::move(fd));
}

}  // namespace

FileLock FileLock::exclusive(const Dir& dir, const std::string& name) {
  return lock_at(dir.open_file(name, O_RDONLY | O_CREAT | O_NONBLOCK, 0644), dir / name, LOCK_EX,
                 true);
}

FileLock FileLock::try_exclusive(const Dir& dir, const std::string& name) {
  return lock_at(dir.open_file(name, O_RDONLY | O_CREAT | O_NONBLOCK, 0644), dir / name, LOCK_EX,
                 false);
}

FileLock FileLock::shared(const Dir& dir, const std::string& name) {
  return lock_at(dir.open_file(name, O_RDONLY | O_CREAT | O_NONBLOCK, 0644), dir / name, LOCK_SH,
                 true);
}

FileLock FileLock::try_shared(const Dir& dir, const std::string& name) {
  return lock_at(dir.open_file(name, O_RDONLY | O_CREAT | O_NONBLOCK, 0644), dir / name, LOCK_SH,
                 false);
}

FileLock FileLock::directory_shared(const Dir& dir, const std::string& name) {
  return lock_at(
      Fd(openat(dir.fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)),
      dir / name, LOCK_SH, true);
}

FileLock FileLock::directory_shared(const fs::path& path) {
  return lock_at(Fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), path, LOCK_SH, true);
}

FileLock FileLock::directory_try_exclusive(const Dir& dir, const std::string& name) {
  return lock_at(
      Fd(openat(dir.fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)),
      dir / name, LOCK_EX, false);
}

std::uintmax_t tree_size(const fs::path& path) noexcept {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2) && !it->is_symlink(ec2)) total += it->file_size(ec2);
  }
  return total;
}

bool on_tmpfs(const fs::path& path) {
  struct statfs s;
  return statfs(path.c_str(), &s) == 0 && s.f_type == TMPFS_MAGIC;
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ExitCode::kSystem, fmt::format("getrandom failed: {}", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace pg_unit_tests::platform
