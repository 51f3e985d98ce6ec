// PG_UNIT_TESTS_TRACE=1 prints where a start spends its time (milliseconds since the process
// started) on stderr; keepers write theirs into the server's keeper.log.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace pg_unit_tests::platform {

inline void trace(const char* step) {
  static const bool on = [] {
    const char* v = std::getenv("PG_UNIT_TESTS_TRACE");
    return v && *v && *v != '0';
  }();
  if (!on) return;
  static const auto origin = std::chrono::steady_clock::now();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - origin).count();
  std::fprintf(stderr, "pg_unit_tests trace: %8.2f ms  %s\n", ms, step);
}

}  // namespace pg_unit_tests::platform
