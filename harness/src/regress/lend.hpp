// Lending the caller's output directory to the server for a run. Under root the server runs as
// the harness's system user, which cannot write into root's results/ directory: tests that make
// the server write files there (COPY TO, lo_export: core's copy, misc, largeobject) would fail.
// pg_regress has no such problem because it refuses root. The directory itself (and nothing
// above it) is given to the server user for the run with its mode unchanged; afterwards it goes
// back to its owner, and so does every file the server left in it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "platform/fd.hpp"

namespace pg_unit_tests::regress::detail {

class LentDirectory {
 public:
  // Gives `dir` to uid:gid. Returns a LentDirectory that lends nothing (and a reason in
  // `*why_not`) when `dir` is not a directory of its own (a symlink is never followed).
  static LentDirectory lend(const std::filesystem::path& dir, uid_t uid, gid_t gid,
                            std::string* why_not);

  LentDirectory() = default;
  LentDirectory(LentDirectory&&) noexcept = default;
  LentDirectory& operator=(LentDirectory&&) noexcept;
  LentDirectory(const LentDirectory&) = delete;
  LentDirectory& operator=(const LentDirectory&) = delete;
  ~LentDirectory() { give_back(); }

  // The directory and everything the server user owns under it go back to the directory's owner
  // (idempotent).
  void give_back() noexcept;

 private:
  // Gives the entries the borrower owns under dir_fd back to the owner, directories recursively.
  void return_entries(int dir_fd, int depth) const noexcept;

  platform::Fd fd_;
  uid_t owner_ = 0, borrower_ = 0;
  gid_t group_ = 0;
  mode_t mode_ = 0;
};

// True if uid:gid may search every directory from / down to `dir` (group membership: the primary
// group only). Used to warn before tests fail on a server that cannot reach the suite.
bool reachable_by(const std::filesystem::path& dir, uid_t uid, gid_t gid);

}  // namespace pg_unit_tests::regress::detail
