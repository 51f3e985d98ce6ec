// The C++/PostgreSQL boundary for SQL-callable functions.
//
// PostgreSQL reports errors with longjmp (ereport), C++ with exceptions; neither may cross the
// other. Every SQL-callable function of the extension is defined with PGUT_SQL_FUNCTION, which runs
// the C++ implementation inside pgut::pg::call: any C++ exception is caught there, its text copied
// into a plain buffer, the exception object destroyed, and only then reported with ereport(ERROR).
//
// The other direction: code that calls PostgreSQL functions which may ereport keeps no
// resource-owning C++ objects (std::string, containers, RAII guards) alive across those calls
// (their destructors would not run when the error longjmps past them). Feature code is written in
// that plain style.
#pragma once

#include "pg/postgres.hpp"

#include <exception>
#include <string>
#include <utility>

namespace pgut::pg {

// An error for the user: one line of what is wrong, and a hint on how to fix it.
class Error : public std::exception {
 public:
  Error(int sqlstate, std::string message, std::string hint = {})
      : sqlstate_(sqlstate), message_(std::move(message)), hint_(std::move(hint)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int sqlstate() const noexcept { return sqlstate_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  int sqlstate_;
  std::string message_;
  std::string hint_;
};

// Records the exception being handled (call only from a catch block) for raise_captured().
void capture_current_exception() noexcept;
// Raises the recorded exception as a PostgreSQL ERROR. Never returns.
[[noreturn]] void raise_captured();

// Runs impl; no C++ exception leaves this function, every one becomes an ERROR. The exception is
// recorded in static storage inside the handler and reported after it, once the exception object
// is destroyed. Nothing here costs anything unless something is thrown.
template <typename Impl>
inline Datum call(FunctionCallInfo fcinfo, Impl impl) {
  try {
    return impl(fcinfo);
  } catch (...) {
    capture_current_exception();
  }
  raise_captured();
}

}  // namespace pgut::pg

// Defines the SQL-callable C function `name` (V1 calling convention) over `impl`, a function
// Datum(FunctionCallInfo) that may throw.
#define PGUT_SQL_FUNCTION(name, impl)        \
  extern "C" {                               \
  PG_FUNCTION_INFO_V1(name);                 \
  }                                          \
  extern "C" Datum name(PG_FUNCTION_ARGS) {  \
    return ::pgut::pg::call(fcinfo, (impl)); \
  }
