// Unusual technique: patching PostgreSQL's table of built-in functions (fmgr_builtins[]).
//
// Why: clock_timestamp() and timeofday() read the operating system's clock directly
// (GetCurrentTimestamp(), gettimeofday()), not a static an extension can set, and faking the OS
// clock is out of the question (it hangs sleeps and timeouts and reaches every process). Calls
// to built-in functions are resolved through fmgr_builtins[] (fmgr_isbuiltin) before any hook is
// consulted, so the only interception point is that table. It is exported but `const`: after
// relocation it sits in read-only memory (RELRO), hence the mprotect() around the write.
//
// The patch is made once, in the postmaster while it preloads the library, so every backend and
// parallel worker inherits it through fork(). The replacement functions check the session's
// (cached) state and call the original when time is real: other sessions, and sessions that never
// touch time control, see the stock behaviour at the cost of one extra call.
//
// now()/transaction_timestamp()/statement_timestamp() are routed as well, only to make sure the
// mocked timestamps are in place before the stock function reads them: inside a procedure, after
// COMMIT, a PL/pgSQL simple expression (x := now()) runs without any executor hook.
//
// JIT: llvmjit calls built-ins by symbol name, bypassing the table. For a function that
// needs_fmgr_hook claims, fmgr_symbol() names fmgr_security_definer instead, which looks the
// function up through fmgr_info() and therefore through the patched table. So needs_fmgr_hook
// claims clock_timestamp() and timeofday() (built-ins never reach fmgr_hook otherwise: fmgr_info
// takes the built-in fast path first), and JIT-compiled plans read the mocked clock too.
#include "clock/builtins.hpp"

#include "clock/state.hpp"
#include "pg/boundary.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace pgut::clock {
namespace {

PGFunction original_now = nullptr;
PGFunction original_statement_timestamp = nullptr;
PGFunction original_clock_timestamp = nullptr;
PGFunction original_timeofday = nullptr;
bool installed = false;
needs_fmgr_hook_type prev_needs_fmgr_hook = nullptr;

// Frozen: the answer is the frozen instant (sync() would put exactly that into the statics).
Datum mocked_now(FunctionCallInfo fcinfo) {
  if (state.mode == Mode::frozen) PG_RETURN_TIMESTAMPTZ(state.frozen_at);
  sync();
  return original_now(fcinfo);
}

Datum mocked_statement_timestamp(FunctionCallInfo fcinfo) {
  if (state.mode == Mode::frozen) PG_RETURN_TIMESTAMPTZ(state.frozen_at);
  sync();
  return original_statement_timestamp(fcinfo);
}

Datum mocked_clock_timestamp(FunctionCallInfo fcinfo) {
  if (state.mode == Mode::real) return original_clock_timestamp(fcinfo);
  PG_RETURN_TIMESTAMPTZ(mocked_clock());
}

// timeofday(): the same text as the built-in ("Mon Jan 01 12:00:00.000000 2024 UTC"), for the
// mocked instant.
Datum mocked_timeofday(FunctionCallInfo fcinfo) {
  if (state.mode == Mode::real) return original_timeofday(fcinfo);
  TimestampTz now = mocked_clock();
  pg_time_t seconds = timestamptz_to_time_t(now);
  int64 micros = (now - SetEpochTimestamp()) % USECS_PER_SEC;
  if (micros < 0) micros += USECS_PER_SEC;
  char templ[128];
  char buf[128];
  pg_strftime(templ, sizeof templ, "%a %b %d %H:%M:%S.%%06d %Y %Z",
              pg_localtime(&seconds, session_timezone));
  std::snprintf(buf, sizeof buf, templ, static_cast<int>(micros));
  PG_RETURN_TEXT_P(cstring_to_text(buf));
}

extern "C" Datum pgut_now(PG_FUNCTION_ARGS) {
  return pg::call(fcinfo, mocked_now);
}
extern "C" Datum pgut_statement_timestamp(PG_FUNCTION_ARGS) {
  return pg::call(fcinfo, mocked_statement_timestamp);
}
extern "C" Datum pgut_clock_timestamp(PG_FUNCTION_ARGS) {
  return pg::call(fcinfo, mocked_clock_timestamp);
}
extern "C" Datum pgut_timeofday(PG_FUNCTION_ARGS) {
  return pg::call(fcinfo, mocked_timeofday);
}

bool needs_hook(Oid fn_oid) {
  if (fn_oid == F_CLOCK_TIMESTAMP || fn_oid == F_TIMEOFDAY) return true;
  return prev_needs_fmgr_hook != nullptr && prev_needs_fmgr_hook(fn_oid);
}

const FmgrBuiltin* find_builtin(Oid oid) {
  if (oid > fmgr_last_builtin_oid) return nullptr;
  uint16 index = fmgr_builtin_oid_index[oid];
  if (index == InvalidOidBuiltinMapping) return nullptr;
  const FmgrBuiltin* entry = &fmgr_builtins[index];
  return entry->foid == oid ? entry : nullptr;
}

// Writes one function pointer of the read-only table.
bool write_entry(const FmgrBuiltin* entry, PGFunction replacement) {
  static const long page_size = sysconf(_SC_PAGESIZE);
  auto* field = reinterpret_cast<char*>(const_cast<PGFunction*>(&entry->func));
  char* page = field - reinterpret_cast<uintptr_t>(field) % static_cast<uintptr_t>(page_size);
  size_t length = field + sizeof(PGFunction) - page;
  if (mprotect(page, length, PROT_READ | PROT_WRITE) != 0) return false;
  std::memcpy(field, &replacement, sizeof replacement);
  // Back to read-only, as the loader left it.
  return mprotect(page, length, PROT_READ) == 0;
}

struct Route {
  Oid oid;
  PGFunction expected;  // the stock function, to make sure we patch what we think we patch
  PGFunction replacement;
  PGFunction* original;
};

}  // namespace

void install_builtin_clocks() {
  const Route routes[] = {
      {F_NOW, now, pgut_now, &original_now},
      {F_TRANSACTION_TIMESTAMP, now, pgut_now, &original_now},
      {F_STATEMENT_TIMESTAMP, statement_timestamp, pgut_statement_timestamp,
       &original_statement_timestamp},
      {F_CLOCK_TIMESTAMP, clock_timestamp, pgut_clock_timestamp, &original_clock_timestamp},
      {F_TIMEOFDAY, timeofday, pgut_timeofday, &original_timeofday},
  };
  for (const Route& route : routes) {
    const FmgrBuiltin* entry = find_builtin(route.oid);
    if (entry == nullptr || entry->func != route.expected) {
      ereport(WARNING, (errmsg("pg_unit_tests: built-in function %u is not as expected; "
                               "clock_timestamp() and timeofday() keep the real clock",
                               route.oid)));
      return;
    }
  }
  for (const Route& route : routes) {
    const FmgrBuiltin* entry = find_builtin(route.oid);
    *route.original = entry->func;
    if (!write_entry(entry, route.replacement)) {
      ereport(WARNING, (errmsg("pg_unit_tests: could not patch the built-in function table: %m"),
                        errdetail("clock_timestamp() and timeofday() keep the real clock.")));
      return;
    }
  }
  prev_needs_fmgr_hook = needs_fmgr_hook;
  needs_fmgr_hook = needs_hook;
  installed = true;
}

bool builtin_clocks_installed() {
  return installed;
}

}  // namespace pgut::clock
