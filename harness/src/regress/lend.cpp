#include "regress/lend.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace pg_unit_tests::regress::detail {

namespace fs = std::filesystem;

namespace {

// Opens `dir` from / down, one component at a time without following a symlink, and accepts it
// only if no other user could have swapped any component: every directory on the way belongs to
// root or the caller and is writable by nobody else unless sticky (in a sticky directory others
// cannot rename what is root's or the caller's, and the next component's owner is checked in
// turn). Otherwise a user owning a parent of --outputdir could swap results/ for any directory
// between the open and the fchown, and root would give that directory to the server user.
platform::Fd open_unswappable(const fs::path& dir, uid_t borrower, std::string* why_not) {
  const uid_t caller = geteuid();
  platform::Fd fd(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  fs::path at = "/";
  const fs::path rel = dir.lexically_normal().relative_path();
  auto it = rel.begin();
  for (;;) {
    struct stat st;
    if (!fd || fstat(fd.get(), &st) != 0) {
      *why_not = fmt::format("{} is not a directory of its own ({}: {})", dir.string(), at.string(),
                             std::strerror(errno));
      return {};
    }
    const bool last = it == rel.end();
    const bool owner_ok = st.st_uid == 0 || st.st_uid == caller || (last && st.st_uid == borrower);
    const bool others_write = !last && (st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0;
    if (!owner_ok || others_write) {
      *why_not = fmt::format(
          "{} is not lent to the server user: {} can be changed by another user (owner uid {}, "
          "mode {:04o}); tests that make the server write there will fail (use an --outputdir "
          "whose directories only root or you can change)",
          dir.string(), at.string(), st.st_uid, st.st_mode & 07777);
      return {};
    }
    if (last) return fd;
    at /= *it;
    fd = platform::Fd(
        openat(fd.get(), it->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    ++it;
  }
}

}  // namespace

LentDirectory LentDirectory::lend(const fs::path& dir, uid_t uid, gid_t gid, std::string* why_not) {
  LentDirectory d;
  platform::Fd fd = open_unswappable(fs::absolute(dir), uid, why_not);
  struct stat st;
  if (!fd) return d;
  if (fstat(fd.get(), &st) != 0) {
    *why_not =
        fmt::format("{} is not a directory of its own ({})", dir.string(), std::strerror(errno));
    return d;
  }
  d.owner_ = st.st_uid;
  d.group_ = st.st_gid;
  d.mode_ = st.st_mode & 07777;
  d.borrower_ = uid;
  if (st.st_uid == uid) {
    // Left lent by a run that was killed: it belongs to the owner of the directory above it.
    struct stat parent;
    if (stat(dir.parent_path().c_str(), &parent) == 0) {
      d.owner_ = parent.st_uid;
      d.group_ = parent.st_gid;
    }
  }
  if (fchown(fd.get(), uid, gid) != 0) {
    *why_not =
        fmt::format("could not give {} to the server user: {}", dir.string(), std::strerror(errno));
    return d;
  }
  d.fd_ = std::move(fd);
  return d;
}

LentDirectory& LentDirectory::operator=(LentDirectory&& o) noexcept {
  if (this != &o) {
    give_back();
    fd_ = std::move(o.fd_);
    owner_ = o.owner_;
    borrower_ = o.borrower_;
    group_ = o.group_;
    mode_ = o.mode_;
  }
  return *this;
}

void LentDirectory::give_back() noexcept {
  if (!fd_) return;
  // Through the descriptor of the directory lent (not its path), and without following symlinks:
  // the server user may have replaced anything inside it.
  if (fchown(fd_.get(), owner_, group_) != 0 || fchmod(fd_.get(), mode_) != 0) {
    fd_.reset();
    return;
  }
  return_entries(fd_.get(), 0);
  fd_.reset();
}

void LentDirectory::return_entries(int dir_fd, int depth) const noexcept {
  const int scan = dup(dir_fd);
  DIR* d = scan >= 0 ? fdopendir(scan) : nullptr;
  if (!d) {
    if (scan >= 0) close(scan);
    return;
  }
  for (struct dirent* e; (e = readdir(d)) != nullptr;) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != borrower_) {
      continue;
    }
    (void)fchownat(dir_fd, e->d_name, owner_, group_, AT_SYMLINK_NOFOLLOW);
    // Directories the borrower made (TAP tests' tmp_check/log, data directories), through
    // descriptors: a name swapped for a symlink meanwhile is not followed.
    if (S_ISDIR(st.st_mode) && depth < 32) {
      platform::Fd sub(openat(dir_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) return_entries(sub.get(), depth + 1);
    }
  }
  closedir(d);
}

bool reachable_by(const fs::path& dir, uid_t uid, gid_t gid) {
  fs::path p;
  for (const auto& part : dir) {
    p /= part;
    struct stat st;
    if (stat(p.c_str(), &st) != 0) return false;
    const mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if ((st.st_mode & bit) == 0) return false;
  }
  return true;
}

}  // namespace pg_unit_tests::regress::detail
