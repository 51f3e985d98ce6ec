// Helpers for tests that look at the harness's errors and outputs (header-only: unit tests use it
// too, without the rest of the support library).
#pragma once

#include <functional>
#include <string>

#include "pg_unit_tests/error.hpp"

namespace test_support {

// The exit code of the Error that f throws (kOk if none).
inline pg_unit_tests::ExitCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pg_unit_tests::Error& e) {
    return e.code();
  }
  return pg_unit_tests::ExitCode::kOk;
}

// The message of the Error that f throws (empty if none).
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pg_unit_tests::Error& e) {
    return e.what();
  }
  return {};
}

// Without trailing newlines and blanks (a command's output).
inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace test_support
