// Report helpers shared by the runner and the report writers (report.cpp).
#pragma once

#include <filesystem>
#include <string>

#include "pg_unit_tests/regress.hpp"

namespace pg_unit_tests::regress::detail {

// The verdict as pg_regress prints it: "ok", "FAILED", "failed (ignored)"; ours: "accepted".
std::string status_word(const TestResult& t);

// Counts the tests of `s` by status into passed, failed, ignored, accepted.
void count_statuses(Summary& s);

// One line per test in run order, as the console printed them, each after `prefix`.
std::string summary_lines(const Summary& s, const std::string& prefix);

// regression.out: one line per test in run order, as the console printed them.
void write_summary_file(const Summary& s, const std::filesystem::path& file);

}  // namespace pg_unit_tests::regress::detail
