#include "cluster/dsm_segments.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "platform/fd.hpp"

namespace pg_unit_tests::cluster {

namespace {

constexpr const char* kPrefix = "PostgreSQL.";

std::vector<std::string> names_in(DIR* d) {
  std::vector<std::string> out;
  while (const dirent* e = readdir(d)) out.emplace_back(e->d_name);
  return out;
}

// The segments some process has open (a descriptor) or mapped: what /proc shows of every process
// (root sees all; anyone else their own, which is whose segments they may remove anyway).
std::set<std::string> segments_in_use() {
  std::set<std::string> used;
  const std::string prefix = std::string(kDsmDirectory) + "/" + kPrefix;
  DIR* proc = opendir("/proc");
  if (!proc) return used;
  for (const auto& pid : names_in(proc)) {
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string dir = "/proc/" + pid;
    std::ifstream maps(dir + "/maps");
    for (std::string line; std::getline(maps, line);) {
      if (const size_t at = line.find(prefix); at != std::string::npos) {
        used.insert(line.substr(at + std::strlen(kDsmDirectory) + 1));
      }
    }
    if (DIR* fds = opendir((dir + "/fd").c_str())) {
      for (const auto& fd : names_in(fds)) {
        char target[256];
        const ssize_t n = readlinkat(dirfd(fds), fd.c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        const std::string t(target, static_cast<size_t>(n));
        if (t.rfind(prefix, 0) == 0) used.insert(t.substr(std::strlen(kDsmDirectory) + 1));
      }
      closedir(fds);
    }
  }
  closedir(proc);
  return used;
}

struct Candidate {
  std::string name;
  ino_t inode;
};

std::vector<Candidate> candidates(int dir, uid_t uid, std::time_t since) {
  std::vector<Candidate> out;
  DIR* d = fdopendir(dup(dir));
  if (!d) return out;
  for (const auto& name : names_in(d)) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    struct stat st;
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != uid || st.st_ctime < since) {
      continue;
    }
    out.push_back({name, st.st_ino});
  }
  closedir(d);
  return out;
}

// The candidates nobody has open or mapped.
std::vector<Candidate> abandoned(int dir, uid_t uid, std::time_t since) {
  auto found = candidates(dir, uid, since);
  if (found.empty()) return found;
  const auto used = segments_in_use();
  std::erase_if(found, [&](const Candidate& c) { return used.count(c.name) > 0; });
  return found;
}

platform::Fd open_dsm_directory() {
  return platform::Fd(open(kDsmDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

}  // namespace

int remove_abandoned_segments(uid_t uid, std::time_t since) {
  const platform::Fd dir = open_dsm_directory();
  if (!dir) return 0;
  int removed = 0;
  for (const auto& c : abandoned(dir.get(), uid, since)) {
    // Still the file we examined (the directory is sticky: only its owner could have replaced it).
    struct stat st;
    if (fstatat(dir.get(), c.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_ino != c.inode ||
        st.st_uid != uid) {
      continue;
    }
    removed += unlinkat(dir.get(), c.name.c_str(), 0) == 0;
  }
  return removed;
}

}  // namespace pg_unit_tests::cluster
