// Result comparison. Equality is decided here byte by byte (no process per passing test); only a
// failing test runs `diff`: pg_regress itself shells out to diff, and using the same program keeps
// regression.diffs identical in format and lets PG_REGRESS_DIFF_OPTS (-w, -U10, ...) work
// unchanged.
#include "regress/compare.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "platform/fd.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests::regress::detail {

namespace {

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Runs diff with its output appended to `out_fd`; returns diff's status (0 same, 1 different, 2+
// trouble).
int run_diff(const std::vector<std::string>& args, int out_fd) {
  const fs::path diff = diff_program();
  if (diff.empty()) return 127;
  platform::SpawnSpec spec;
  spec.argv = {diff.string()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.stdout_fd = out_fd;
  spec.stderr_fd = 2;
  return platform::wait_for(platform::spawn(spec));
}

long count_lines(int fd) {
  if (lseek(fd, 0, SEEK_SET) < 0) return -1;
  long lines = 0;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
  }
  return lines;
}

fs::path alternative(const fs::path& expected, int i) {
  return expected.parent_path() /
         fmt::format("{}_{}{}", expected.stem().string(), i, expected.extension().string());
}

}  // namespace

fs::path diff_program() {
  static const fs::path found = platform::find_on_path("diff");
  return found;
}

bool same_bytes(const fs::path& a, const fs::path& b) {
  std::error_code ec1, ec2;
  const auto sa = fs::file_size(a, ec1), sb = fs::file_size(b, ec2);
  if (ec1 || ec2 || sa != sb) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  static constexpr size_t kChunk = 1 << 16;
  std::vector<char> ba(kChunk), bb(kChunk);
  while (fa && fb) {
    fa.read(ba.data(), kChunk);
    fb.read(bb.data(), kChunk);
    if (fa.gcount() != fb.gcount()) return false;
    if (std::memcmp(ba.data(), bb.data(), static_cast<size_t>(fa.gcount())) != 0) return false;
  }
  return true;
}

Comparison compare(const fs::path& expected, const fs::path& result) {
  Comparison c;
  std::vector<fs::path> candidates;
  if (fs::exists(expected)) candidates.push_back(expected);
  for (int i = 0; i <= 9; ++i) {
    if (fs::path alt = alternative(expected, i); fs::exists(alt)) candidates.push_back(alt);
  }
  if (candidates.empty()) {
    c.missing_expected = true;
    c.expected = expected;
    return c;
  }
  for (const auto& candidate : candidates) {
    if (same_bytes(candidate, result)) {
      c.same = true;
      c.expected = candidate;
      return c;
    }
  }
  c.expected = candidates.front();
  if (candidates.size() == 1) return c;
  // The closest candidate: fewest lines of plain diff output (pg_regress's rule; ties: the first).
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "pg_unit_tests-diff-XXXXXX").string();
  platform::Fd tmp(mkostemp(tmpl.data(), O_CLOEXEC));
  if (!tmp) return c;
  unlink(tmpl.c_str());
  long best = -1;
  for (const auto& candidate : candidates) {
    if (ftruncate(tmp.get(), 0) != 0 || lseek(tmp.get(), 0, SEEK_SET) < 0) break;
    const int status = run_diff({candidate.string(), result.string()}, tmp.get());
    if (status > 1) {
      c.error = fmt::format("diff failed with status {} comparing {} and {}", status,
                            candidate.string(), result.string());
      return c;
    }
    const long lines = count_lines(tmp.get());
    if (best < 0 || lines < best) {
      best = lines;
      c.expected = candidate;
    }
  }
  return c;
}

std::string write_pretty_diff(const fs::path& expected, const fs::path& result,
                              const fs::path& out) {
  const fs::path diff = diff_program();
  if (diff.empty()) return "the diff program was not found on PATH (install diffutils)";
  std::string opts = "-U3";
  if (const char* env = std::getenv("PG_REGRESS_DIFF_OPTS")) opts = env;
  const std::string left = fs::exists(expected) ? expected.string() : "/dev/null";
  platform::Fd fd(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fmt::format("could not write {}: {}", out.string(), std::strerror(errno));
  const std::string header = fmt::format("diff {} {} {}\n", opts, left, result.string());
  if (write(fd.get(), header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
    return fmt::format("could not write {}: {}", out.string(), std::strerror(errno));
  }
  std::vector<std::string> args = split_words(opts);
  args.push_back(left);
  args.push_back(result.string());
  const int status = run_diff(args, fd.get());
  if (status > 1) return fmt::format("diff {} failed with status {}", opts, status);
  return {};
}

std::string head_lines(const fs::path& file, int max_lines, bool* truncated) {
  std::ifstream in(file, std::ios::binary);
  std::string out, line;
  int n = 0;
  *truncated = false;
  while (std::getline(in, line)) {
    if (n == max_lines) {
      *truncated = true;
      break;
    }
    if (line.size() > 1000) line = line.substr(0, 1000) + "...";
    out += line;
    out += '\n';
    ++n;
  }
  return out;
}

}  // namespace pg_unit_tests::regress::detail
