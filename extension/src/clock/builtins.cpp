// Unusual technique: patching PostgreSQL's table of built-in functions (fmgr_builtins[]).
//
// Why: the SQL-visible clocks read the operating system's clock (clock_timestamp(), timeofday())
// or two statics of xact.c, the transaction and statement start timestamps (now(),
// statement_timestamp(), and the date/time input functions for 'now', 'today', 'tomorrow',
// 'yesterday'). No extension may write those statics (SetParallelStartTimestamps() is for parallel
// workers only and asserts it), and faking the OS clock is out of the question (it hangs sleeps and
// timeouts and reaches every process). So the *readers* are redirected instead: calls of built-in
// functions are resolved through fmgr_builtins[] (fmgr_isbuiltin) before any hook is consulted,
// and every path that calls these functions goes through that table: expressions, parse analysis
// of literals, COPY FROM data, casts through text (CoerceViaIO), array, range and domain input,
// bind parameters, fast-path calls (PQfn). The table is exported but `const`: after relocation it
// sits in read-only memory (RELRO), hence the mprotect() around the write.
//
// The patch is made once, in the postmaster while it preloads the library, so every backend and
// parallel worker inherits it through fork(). Each replacement asks effective() (state.hpp) and
// calls the original when time is real: other sessions, and sessions that never touch time control,
// see the stock behaviour at the cost of one extra call and a few loads.
//
// The input functions tokenise their input with PostgreSQL's own ParseDateTime and only when time
// is mocked and a token is one of the four words do they hand the stock function an input with
// the words replaced by the mocked instant (relative.hpp); nothing is ever parsed from query text.
//
// JIT: llvmjit calls built-ins by symbol name, bypassing the table. For a function that
// needs_fmgr_hook claims, fmgr_symbol() names fmgr_security_definer instead, which looks the
// function up through fmgr_info() and therefore through the patched table. So needs_fmgr_hook
// claims every patched function (built-ins never reach fmgr_hook otherwise: fmgr_info takes the
// built-in fast path first), and JIT-compiled plans read the mocked clock too.
#include "clock/builtins.hpp"

#include "clock/relative.hpp"
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
PGFunction original_timestamptz_in = nullptr;
PGFunction original_timestamp_in = nullptr;
PGFunction original_date_in = nullptr;
PGFunction original_time_in = nullptr;
PGFunction original_timetz_in = nullptr;
bool installed = false;
needs_fmgr_hook_type prev_needs_fmgr_hook = nullptr;

Datum mocked_now(FunctionCallInfo fcinfo) {
  const Effective& e = effective();
  if (e.clock.mode == Mode::real) return original_now(fcinfo);
  PG_RETURN_TIMESTAMPTZ(mocked_transaction(e.clock));
}

Datum mocked_statement_timestamp(FunctionCallInfo fcinfo) {
  const Effective& e = effective();
  if (e.clock.mode == Mode::real) return original_statement_timestamp(fcinfo);
  PG_RETURN_TIMESTAMPTZ(mocked_statement(e.clock));
}

Datum mocked_clock_timestamp(FunctionCallInfo fcinfo) {
  const Effective& e = effective();
  if (e.clock.mode == Mode::real) return original_clock_timestamp(fcinfo);
  PG_RETURN_TIMESTAMPTZ(mocked_wall(e.clock));
}

// timeofday(): the same text as the built-in ("Mon Jan 01 12:00:00.000000 2024 UTC"), for the
// mocked instant. Seconds and microseconds by floor division (instants before 2000 are negative),
// and from the PostgreSQL epoch, so that no intermediate value leaves int64 near the range's end.
Datum mocked_timeofday(FunctionCallInfo fcinfo) {
  const Effective& e = effective();
  if (e.clock.mode == Mode::real) return original_timeofday(fcinfo);
  const TimestampTz now = mocked_wall(e.clock);
  int64 micros = now % USECS_PER_SEC;
  if (micros < 0) micros += USECS_PER_SEC;
  const pg_time_t seconds =
      (now - micros) / USECS_PER_SEC +
      static_cast<pg_time_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
  char templ[128];
  char buf[128];
  pg_strftime(templ, sizeof templ, "%a %b %d %H:%M:%S.%%06d %Y %Z",
              pg_localtime(&seconds, session_timezone));
  std::snprintf(buf, sizeof buf, templ, static_cast<int>(micros));
  PG_RETURN_TEXT_P(cstring_to_text(buf));
}

// A date/time input function: the stock one, unless time is mocked and the input names the
// current time; then the stock one on the input with those words replaced.
Datum mocked_input(FunctionCallInfo fcinfo, PGFunction original, bool time_only) {
  const Effective& e = effective();
  if (e.clock.mode == Mode::real) return original(fcinfo);
  const char* text = PG_GETARG_CSTRING(0);
  DateTimeTokens tokens;
  if (!tokenize_datetime(text, &tokens) || tokens.relative == 0) return original(fcinfo);
  char replaced[MAXDATELEN * 2 + MAXDATEFIELDS];
  // Invalid input (or a result that would not fit) is the stock function's to report, with the
  // text as the user wrote it.
  if (!substitute_relative(tokens, mocked_transaction(e.clock), replaced, sizeof replaced) ||
      !decodes(&tokens, time_only))
    return original(fcinfo);
  LOCAL_FCINFO(call, 3);
  InitFunctionCallInfoData(*call, fcinfo->flinfo, fcinfo->nargs, fcinfo->fncollation,
                           fcinfo->context, fcinfo->resultinfo);
  for (int i = 0; i < fcinfo->nargs && i < 3; i++) call->args[i] = fcinfo->args[i];
  call->args[0].value = CStringGetDatum(replaced);
  Datum result = original(call);
  fcinfo->isnull = call->isnull;
  return result;
}

// The date/time input function `original` points to, as the table calls it (time_only: it decodes
// a time of day).
template <PGFunction* original, bool time_only>
Datum mocked_input_of(FunctionCallInfo fcinfo) {
  return mocked_input(fcinfo, *original, time_only);
}

// What the patched table calls: the C++ implementation behind the boundary (no exception leaves).
template <Datum (*implementation)(FunctionCallInfo)>
Datum replacement(PG_FUNCTION_ARGS) {
  return pg::call(fcinfo, implementation);
}

struct Route {
  Oid oid;
  PGFunction expected;  // the stock function, to make sure we patch what we think we patch
  PGFunction replacement;
  PGFunction* original;
};

const Route kRoutes[] = {
    {F_NOW, now, replacement<mocked_now>, &original_now},
    {F_TRANSACTION_TIMESTAMP, now, replacement<mocked_now>, &original_now},
    {F_STATEMENT_TIMESTAMP, statement_timestamp, replacement<mocked_statement_timestamp>,
     &original_statement_timestamp},
    {F_CLOCK_TIMESTAMP, clock_timestamp, replacement<mocked_clock_timestamp>,
     &original_clock_timestamp},
    {F_TIMEOFDAY, timeofday, replacement<mocked_timeofday>, &original_timeofday},
    {F_TIMESTAMPTZ_IN, timestamptz_in,
     replacement<mocked_input_of<&original_timestamptz_in, false>>, &original_timestamptz_in},
    {F_TIMESTAMP_IN, timestamp_in, replacement<mocked_input_of<&original_timestamp_in, false>>,
     &original_timestamp_in},
    {F_DATE_IN, date_in, replacement<mocked_input_of<&original_date_in, false>>, &original_date_in},
    {F_TIME_IN, time_in, replacement<mocked_input_of<&original_time_in, true>>, &original_time_in},
    {F_TIMETZ_IN, timetz_in, replacement<mocked_input_of<&original_timetz_in, true>>,
     &original_timetz_in},
};

bool needs_hook(Oid fn_oid) {
  if (installed)
    for (const Route& route : kRoutes)
      if (route.oid == fn_oid) return true;
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

}  // namespace

void install_builtin_clocks() {
  for (const Route& route : kRoutes) {
    const FmgrBuiltin* entry = find_builtin(route.oid);
    if (entry == nullptr || entry->func != route.expected) {
      ereport(WARNING, (errmsg("pg_unit_tests: built-in function %u is not as expected; "
                               "time control keeps the real clock",
                               route.oid)));
      return;
    }
  }
  for (const Route& route : kRoutes) {
    const FmgrBuiltin* entry = find_builtin(route.oid);
    *route.original = entry->func;
    if (!write_entry(entry, route.replacement)) {
      ereport(WARNING, (errmsg("pg_unit_tests: could not patch the built-in function table: %m"),
                        errdetail("Time control keeps the real clock.")));
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
