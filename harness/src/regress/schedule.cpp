// Schedule files, parsed by pg_regress's rules (run_schedule in pg_regress.c): trailing white
// space is stripped, blank lines and lines starting with '#' are skipped, `test: ` starts a group
// of white-space separated names, on 15 `ignore: NAME` marks a test whose failure is not counted
// (16 removed it), and anything else is a syntax error naming the file and the line.
#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/regress.hpp"

namespace pg_unit_tests::regress {

namespace {

constexpr size_t kMaxParallel = 100;  // pg_regress's MAX_PARALLEL_TESTS

bool space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// A printable excerpt of a schedule line for error messages (the file may be binary garbage).
std::string excerpt(const std::string& line) {
  std::string out;
  for (char c : line.substr(0, 80))
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : '?');
  if (line.size() > 80) out += "...";
  return out;
}

}  // namespace

Schedule parse_schedule(const fs::path& file, int major) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ExitCode::kUsage,
                fmt::format("could not open schedule file \"{}\": {}", file.string(),
                            fs::exists(file) ? "permission denied" : "no such file"));
  }
  Schedule schedule;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    while (!line.empty() && space(line.back())) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto syntax_error = [&](const std::string& why) {
      return Error(ExitCode::kUsage,
                   fmt::format("syntax error in schedule file \"{}\" line {}: {}{}", file.string(),
                               number, excerpt(line), why));
    };
    if (line.rfind("ignore: ", 0) == 0 && major >= 16) {
      throw syntax_error(
          fmt::format(" (PostgreSQL {}'s pg_regress has no \"ignore:\" lines, 16 "
                      "removed them: drop the line, or make the test pass)",
                      major));
    }
    if (line.rfind("ignore: ", 0) == 0) {
      size_t i = 8;
      while (i < line.size() && space(line[i])) ++i;
      // pg_regress takes the rest of the line as one name.
      if (i < line.size()) schedule.ignored.insert(line.substr(i));
      continue;
    }
    if (line.rfind("test: ", 0) != 0) {
      throw syntax_error(major >= 16 ? " (lines are \"test: NAME ...\" or \"# comment\")"
                                     : " (lines are \"test: NAME ...\", \"ignore: NAME\" or "
                                       "\"# comment\")");
    }
    Group group;
    group.file = file.string();
    group.line = number;
    group.ignored = schedule.ignored;
    size_t i = 6;
    while (i < line.size()) {
      while (i < line.size() && space(line[i])) ++i;
      const size_t start = i;
      while (i < line.size() && !space(line[i])) ++i;
      if (i > start) group.tests.push_back(line.substr(start, i - start));
    }
    if (group.tests.empty()) throw syntax_error(" (no test names)");
    if (group.tests.size() > kMaxParallel) {
      throw Error(ExitCode::kUsage,
                  fmt::format("too many parallel tests (more than {}) in schedule file \"{}\" "
                              "line {}",
                              kMaxParallel, file.string(), number));
    }
    schedule.groups.push_back(std::move(group));
  }
  return schedule;
}

}  // namespace pg_unit_tests::regress
