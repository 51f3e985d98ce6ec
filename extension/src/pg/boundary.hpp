// The C++/PostgreSQL boundary for SQL-callable functions.
//
// PostgreSQL reports errors with longjmp (ereport), C++ with exceptions; neither may cross the
// other. Every SQL-callable function of the extension is defined with PGUT_SQL_FUNCTION, which runs
// the C++ implementation inside pgut::pg::call: any C++ exception is caught there, its text copied
// into a plain buffer, the exception object destroyed, and only then reported with ereport(ERROR).
//
// The other direction: code that calls PostgreSQL functions which may ereport keeps no
// resource-owning C++ objects (std::string, containers, RAII guards) alive across those calls.
// Feature code is written in that plain style; where a C++ object must be alive, wrap the
// PostgreSQL call in pgut::pg::guarded(), which turns the PostgreSQL error into pg::PgError and
// re-raises it at the boundary.
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

// A PostgreSQL error caught by guarded(); the ErrorData lives in a PostgreSQL memory context.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) noexcept : data_(data) {}
  const char* what() const noexcept override { return data_->message ? data_->message : "error"; }
  ErrorData* data() const noexcept { return data_; }

 private:
  ErrorData* data_;
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

// Runs a PostgreSQL call that may ereport while C++ objects are alive in the caller: a PostgreSQL
// error becomes a PgError exception, so C++ destructors run before the boundary re-raises it.
// fn must itself keep no C++ resources (it is a thin lambda around C calls).
template <typename Fn>
inline auto guarded(Fn fn) -> decltype(fn()) {
  using Result = decltype(fn());
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* error = nullptr;
  Result result{};
  PG_TRY();
  { result = fn(); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  if (error != nullptr) throw PgError(error);
  return result;
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
