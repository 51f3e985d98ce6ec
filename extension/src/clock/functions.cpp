// The SQL API of time control: unit_tests.freeze/travel/advance/unfreeze/time_status.
//
// Each function writes the two settings with set_config_option(), exactly as SET would, so the
// state follows transactions, savepoints and function SET clauses (see state.hpp). Validation
// errors are thrown as pg::Error and reported at the boundary; PostgreSQL calls are made from
// plain frames (no C++ object alive across them).
#include "clock/state.hpp"
#include "pg/boundary.hpp"

namespace pgut::clock {
namespace {

constexpr const char* kEnableHint =
    "Start the server with shared_preload_libraries = 'pg_unit_tests' and "
    "pg_unit_tests.time_control = on (the pg_unit_tests harness does this for its servers).";

void require_time_control() {
  if (!time_control_enabled())
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "time control is not enabled on this server", kEnableHint);
  if (MyBackendType != B_BACKEND)
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "time control works in client sessions only, not in background processes",
                    "Autovacuum, background workers and WAL senders always keep real time.");
  if (!superuser() && pg_parameter_aclcheck(kFrozenAt, GetUserId(), ACL_SET) != ACLCHECK_OK)
    throw pg::Error(
        ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to control time",
        "A superuser can allow a role with SELECT unit_tests.grant_time_control('role').");
}

// Writes both settings like SET (session level, transactional).
void set_clock(const char* frozen_at, const char* time_offset) {
  GucContext context = superuser() ? PGC_SUSET : PGC_USERSET;
  // Clear first, then set: the assign hooks never see a half-written state that is not real.
  if (*frozen_at == '\0') {
    set_config_option(kFrozenAt, "", context, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
    set_config_option(kTimeOffset, time_offset, context, PGC_S_SESSION, GUC_ACTION_SET, true, 0,
                      false);
  } else {
    set_config_option(kTimeOffset, "", context, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
    set_config_option(kFrozenAt, frozen_at, context, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
  }
}

TimestampTz finite_timestamp_arg(FunctionCallInfo fcinfo, const char* function, const char* what) {
  if (PG_ARGISNULL(0))
    throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    std::string(function) + ": " + what + " must not be NULL",
                    "To return to real time, call unit_tests.unfreeze().");
  TimestampTz value = PG_GETARG_TIMESTAMPTZ(0);
  if (TIMESTAMP_NOT_FINITE(value))
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    std::string(function) + ": " + what + " must be finite, not " +
                        (TIMESTAMP_IS_NOBEGIN(value) ? "-infinity" : "infinity"),
                    "Use a finite timestamp.");
  return value;
}

// Sets the clock to `to` and keeps it running: the offset is taken from the real start of the
// current transaction, so now() is exactly `to` for the rest of this transaction.
void travel_to(TimestampTz to) {
  int64 offset = to - GetCurrentTransactionStartTimestamp();
  char buf[MAXDATELEN + 1];
  format_offset(offset, buf);
  set_clock("", offset == 0 ? "" : buf);
}

void freeze_at(TimestampTz at) {
  char buf[MAXDATELEN + 1];
  if (!format_timestamp(at, buf))
    throw pg::Error(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "timestamp out of range");
  set_clock(buf, "");
}

Datum freeze(FunctionCallInfo fcinfo) {
  require_time_control();
  TimestampTz at = finite_timestamp_arg(fcinfo, "unit_tests.freeze", "the instant");
  freeze_at(at);
  PG_RETURN_TIMESTAMPTZ(at);
}

Datum travel(FunctionCallInfo fcinfo) {
  require_time_control();
  TimestampTz to = finite_timestamp_arg(fcinfo, "unit_tests.travel", "the destination");
  travel_to(to);
  PG_RETURN_TIMESTAMPTZ(to);
}

void advance_error_context(void*) {
  errcontext(
      "unit_tests.advance: the clock would leave the timestamp range (4713 BC to 294276 AD)");
}

Datum advance(FunctionCallInfo fcinfo) {
  require_time_control();
  if (PG_ARGISNULL(0))
    throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    "unit_tests.advance: the interval must not be NULL",
                    "Pass an interval such as '1 day'.");
  const Clock clock = effective().clock;
  if (clock.mode == Mode::real)
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "unit_tests.advance: time is real, there is no mocked clock to advance",
                    "Call unit_tests.freeze() or unit_tests.travel(timestamp) first.");
  Datum by = PG_GETARG_DATUM(0);
  TimestampTz base = mocked_transaction(clock);
  // Calendar arithmetic in the session's time zone, like timestamptz + interval; its range error
  // gets a context line saying which call failed.
  ErrorContextCallback context;
  context.callback = advance_error_context;
  context.arg = nullptr;
  context.previous = error_context_stack;
  error_context_stack = &context;
  TimestampTz moved = DatumGetTimestampTz(
      DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(base), by));
  error_context_stack = context.previous;
  if (TIMESTAMP_NOT_FINITE(moved) || !IS_VALID_TIMESTAMP(moved))
    throw pg::Error(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
                    "unit_tests.advance: the clock would leave the timestamp range");
  if (clock.mode == Mode::frozen)
    freeze_at(moved);
  else
    travel_to(moved);
  PG_RETURN_TIMESTAMPTZ(moved);
}

Datum unfreeze(FunctionCallInfo fcinfo) {
  require_time_control();
  set_clock("", "");
  PG_RETURN_VOID();
}

// (mode text, frozen_at timestamptz, time_offset interval, enabled boolean)
Datum time_status(FunctionCallInfo fcinfo) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "unit_tests.time_status must return a record");
  desc = BlessTupleDesc(desc);
  Datum values[4] = {};
  bool nulls[4] = {false, true, true, false};
  const char* mode = "real";
  const Clock& clock = effective().clock;
  if (clock.mode == Mode::frozen) {
    mode = "frozen";
    values[1] = TimestampTzGetDatum(clock.frozen_at);
    nulls[1] = false;
  } else if (clock.mode == Mode::travelled) {
    mode = "travelled";
    auto* span = static_cast<Interval*>(palloc0(sizeof(Interval)));
    span->day = static_cast<int32>(clock.offset / USECS_PER_DAY);
    span->time = clock.offset % USECS_PER_DAY;
    values[2] = IntervalPGetDatum(span);
    nulls[2] = false;
  }
  values[0] = CStringGetTextDatum(mode);
  values[3] = BoolGetDatum(time_control_enabled());
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

}  // namespace
}  // namespace pgut::clock

PGUT_SQL_FUNCTION(pgut_freeze, pgut::clock::freeze)
PGUT_SQL_FUNCTION(pgut_travel, pgut::clock::travel)
PGUT_SQL_FUNCTION(pgut_advance, pgut::clock::advance)
PGUT_SQL_FUNCTION(pgut_unfreeze, pgut::clock::unfreeze)
PGUT_SQL_FUNCTION(pgut_time_status, pgut::clock::time_status)
