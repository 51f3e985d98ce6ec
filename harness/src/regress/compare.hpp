// Comparing a result with its expected output and alternatives, as pg_regress's results_differ().
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace pg_unit_tests::regress::detail {

namespace fs = std::filesystem;

struct Comparison {
  bool same = false;
  bool missing_expected = false;  // no expected file and no alternative exists
  fs::path expected;              // the file that matched, else the closest candidate
  std::string error;              // diff could not run
};

// True if both files have exactly the same bytes (what plain `diff` exit status 0 means).
bool same_bytes(const fs::path& a, const fs::path& b);

// Compares `result` with `expected` and then expected's alternatives T_0 ... T_9 (in the same
// directory); the first exact match wins. Without a match, the closest candidate is the one whose
// plain diff has the fewest lines, as in pg_regress.
Comparison compare(const fs::path& expected, const fs::path& result);

// Writes "diff -U3 EXPECTED RESULT" and the unified diff to `out` (PG_REGRESS_DIFF_OPTS replaces
// -U3). An `expected` that does not exist is diffed as /dev/null. Returns "" or an error.
std::string write_pretty_diff(const fs::path& expected, const fs::path& result,
                              const fs::path& out);

// The first `max_lines` lines of a file (each cut at 1000 bytes); sets `truncated` if more.
std::string head_lines(const fs::path& file, int max_lines, bool* truncated);

// "diff" on PATH, or empty.
fs::path diff_program();

}  // namespace pg_unit_tests::regress::detail
