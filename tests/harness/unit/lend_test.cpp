// Lending regress's output directory to the server user under root (regress/lend.hpp): only a
// directory that no other user could swap on the way is given away.
#include "regress/lend.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using pg_unit_tests::regress::detail::LentDirectory;

namespace {

constexpr uid_t kBorrower = 65534;  // nobody: any uid that is not root's will do
constexpr gid_t kBorrowerGroup = 65534;

struct Scratch {
  fs::path path;
  Scratch() {
    std::string tmpl = (fs::temp_directory_path() / "pgut-lend-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~Scratch() { fs::remove_all(path); }
};

uid_t owner_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
  return st.st_uid;
}

}  // namespace

TEST(LentDirectory, IsGivenAndTakenBackThroughTrustedDirectories) {
  if (geteuid() != 0) GTEST_SKIP() << "lending changes owners: root only";
  Scratch s;
  const fs::path results = s.path / "suite" / "results";
  fs::create_directories(results);
  std::string why_not;
  {
    LentDirectory lent = LentDirectory::lend(results, kBorrower, kBorrowerGroup, &why_not);
    EXPECT_EQ(why_not, "");
    EXPECT_EQ(owner_of(results), kBorrower);
  }
  EXPECT_EQ(owner_of(results), 0u);
}

// A parent that another user may write into lets that user swap results/ (or a directory above
// it) for any directory, /etc say, between the open and the chown: nothing is lent then.
TEST(LentDirectory, IsNotLentWhenAnotherUserCouldSwapAParent) {
  if (geteuid() != 0) GTEST_SKIP() << "lending changes owners: root only";
  Scratch s;
  const fs::path open_parent = s.path / "shared";
  const fs::path results = open_parent / "suite" / "results";
  fs::create_directories(results);
  ASSERT_EQ(chmod(open_parent.c_str(), 0777), 0);
  std::string why_not;
  LentDirectory lent = LentDirectory::lend(results, kBorrower, kBorrowerGroup, &why_not);
  EXPECT_NE(why_not.find("can be changed by another user"), std::string::npos) << why_not;
  EXPECT_NE(why_not.find(open_parent.string()), std::string::npos) << why_not;
  EXPECT_EQ(owner_of(results), 0u) << "given away although a parent was open to everyone";
}

TEST(LentDirectory, NeverFollowsASymlink) {
  if (geteuid() != 0) GTEST_SKIP() << "lending changes owners: root only";
  Scratch s;
  const fs::path target = s.path / "elsewhere";
  fs::create_directories(target);
  fs::create_directory_symlink(target, s.path / "results");
  std::string why_not;
  LentDirectory lent = LentDirectory::lend(s.path / "results", kBorrower, kBorrowerGroup, &why_not);
  EXPECT_NE(why_not, "");
  EXPECT_EQ(owner_of(target), 0u);
}
