// The SQL API of time control: unit_tests.freeze/travel/advance/unfreeze (with a scope: the
// session, a database, the server), time_status and the rows of unit_tests.clocks.
//
// The session's clock is written like SET, with set_config_option(), so it follows transactions,
// savepoints and function SET clauses (see state.hpp). Database and server clocks live in shared
// memory and are not transactional on purpose: a test wrapped in a transaction that is rolled back
// (Django's TestCase, Rails' transactional tests, unit_tests.run) must still move the clock of the
// application's other connections, which cannot see its uncommitted data (shared.hpp).
//
// Validation errors are thrown as pg::Error and reported at the boundary; PostgreSQL calls are
// made from plain frames (no C++ object alive across them).
#include "clock/shared.hpp"
#include "clock/state.hpp"
#include "pg/versions.hpp"
#include "pg/boundary.hpp"

#include <cstring>
#include <string>

namespace pgut::clock {
namespace {

constexpr const char* kEnableHint =
    "Start the server with shared_preload_libraries = 'pg_unit_tests' and "
    "pg_unit_tests.time_control = on (the pg_unit_tests harness does this for its servers).";

enum class Scope { session, database, server };

struct Target {
  Scope scope = Scope::session;
  Oid database = InvalidOid;  // Scope::database
};

void require_time_control() {
  if (!time_control_enabled())
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "time control is not enabled on this server", kEnableHint);
  if (!is_client_session())
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "time control works in client sessions only, not in background processes",
                    "Autovacuum, background workers and WAL senders always keep real time.");
}

bool may_control_time() {
  return superuser() || pg_parameter_aclcheck(kFrozenAt, GetUserId(), ACL_SET) == ACLCHECK_OK;
}

void require_privilege(const Target& target) {
  if (superuser()) return;
  switch (target.scope) {
    case Scope::session:
      if (!may_control_time())
        throw pg::Error(
            ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to control time",
            "A superuser can allow a role with SELECT unit_tests.grant_time_control('role').");
      return;
    case Scope::database:
      if (!may_control_time())
        throw pg::Error(
            ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to control time",
            "A superuser can allow a role with SELECT unit_tests.grant_time_control('role').");
      if (!pg::may_connect(target.database, GetUserId()))
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "permission denied to control the clock of a database this role may not "
                        "connect to",
                        "A role that controls time moves the clocks of the databases it has "
                        "CONNECT on.");
      return;
    case Scope::server:
      throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                      "permission denied to control the server's clock",
                      "Only superusers move every database's clock; scope => 'database' moves "
                      "the clock of one database.");
  }
}

// The (scope, database) arguments at positions `scope_arg` and scope_arg + 1.
Target target_args(FunctionCallInfo fcinfo, int scope_arg, const char* function) {
  Target target;
  if (PG_ARGISNULL(scope_arg))
    throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    std::string(function) + ": the scope must not be NULL",
                    "Use 'session', 'database' or 'server'.");
  const char* scope = text_to_cstring(PG_GETARG_TEXT_PP(scope_arg));
  if (std::strcmp(scope, "session") == 0)
    target.scope = Scope::session;
  else if (std::strcmp(scope, "database") == 0)
    target.scope = Scope::database;
  else if (std::strcmp(scope, "server") == 0)
    target.scope = Scope::server;
  else
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    std::string(function) + ": unknown scope \"" + scope + "\"",
                    "Use 'session' (this session), 'database' (every session of a database) or "
                    "'server' (every session).");
  const bool named = !PG_ARGISNULL(scope_arg + 1);
  if (named && target.scope != Scope::database)
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    std::string(function) + ": a database is named only with scope => 'database'");
  if (target.scope == Scope::database) {
    target.database = MyDatabaseId;
    if (named) {
      const char* name = NameStr(*PG_GETARG_NAME(scope_arg + 1));
      target.database = get_database_oid(name, true);
      // Locked as a connecting session locks it, until this transaction ends: a concurrent DROP
      // DATABASE waits, so the clock is never set for a database whose drop has committed (the
      // drop forgets the clock, shared.cpp). Looked up again under the lock, as PostgreSQL does.
      if (target.database != InvalidOid) {
        LockSharedObject(DatabaseRelationId, target.database, 0, AccessShareLock);
        if (get_database_oid(name, true) != target.database) target.database = InvalidOid;
      }
      if (target.database == InvalidOid)
        throw pg::Error(ERRCODE_UNDEFINED_DATABASE,
                        std::string(function) + ": database \"" + name + "\" does not exist");
    }
  }
  return target;
}

// Writes both settings like SET (session level, transactional). Returning to real time is always
// allowed, also to a role whose privilege was revoked while its clock was mocked: it is written
// with the superuser context then (the value is fixed: empty).
void set_clock(const char* frozen_at, const char* time_offset) {
  const bool clearing = *frozen_at == '\0' && *time_offset == '\0';
  GucContext context = superuser() || clearing ? PGC_SUSET : PGC_USERSET;
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

// A clock that is at `to` now and keeps running: the offset is taken from the real start of the
// current transaction, so now() is exactly `to` for the rest of this transaction.
Clock travelled_to(TimestampTz to) {
  Clock clock;
  clock.mode = Mode::travelled;
  clock.offset = to - GetCurrentTransactionStartTimestamp();
  return clock;
}

Clock frozen_at(TimestampTz at) {
  Clock clock;
  clock.mode = Mode::frozen;
  clock.frozen_at = at;
  return clock;
}

Oid shared_oid(const Target& target) {
  return target.scope == Scope::server ? InvalidOid : target.database;
}

void apply(const Target& target, const Clock* clock) {
  if (target.scope == Scope::session) {
    char buf[MAXDATELEN + 1];
    if (clock == nullptr) {
      set_clock("", "");
    } else if (clock->mode == Mode::frozen) {
      if (!format_timestamp(clock->frozen_at, buf))
        throw pg::Error(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "timestamp out of range");
      set_clock(buf, "");
    } else {
      format_offset(clock->offset, buf);
      set_clock("", buf);
    }
    return;
  }
  TimestampTz when;
  shared::change(shared_oid(target), clock, nullptr, &when);
  note_own_change(when);
}

Datum freeze(FunctionCallInfo fcinfo) {
  require_time_control();
  Target target = target_args(fcinfo, 1, "unit_tests.freeze");
  require_privilege(target);
  TimestampTz at = finite_timestamp_arg(fcinfo, "unit_tests.freeze", "the instant");
  Clock clock = frozen_at(at);
  apply(target, &clock);
  PG_RETURN_TIMESTAMPTZ(at);
}

Datum travel(FunctionCallInfo fcinfo) {
  require_time_control();
  Target target = target_args(fcinfo, 1, "unit_tests.travel");
  require_privilege(target);
  TimestampTz to = finite_timestamp_arg(fcinfo, "unit_tests.travel", "the destination");
  Clock clock = travelled_to(to);
  apply(target, &clock);
  PG_RETURN_TIMESTAMPTZ(to);
}

void advance_error_context(void*) {
  errcontext(
      "unit_tests.advance: the clock would leave the timestamp range (4713 BC to 294276 AD)");
}

// The clock advanced by `by` (calendar arithmetic in the session's time zone, like timestamptz +
// interval; its range error gets a context line saying which call failed).
Clock advanced(const Clock& clock, Datum by) {
  TimestampTz base = mocked_transaction(clock);
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
  return clock.mode == Mode::frozen ? frozen_at(moved) : travelled_to(moved);
}

Datum advance(FunctionCallInfo fcinfo) {
  require_time_control();
  Target target = target_args(fcinfo, 1, "unit_tests.advance");
  require_privilege(target);
  if (PG_ARGISNULL(0))
    throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    "unit_tests.advance: the interval must not be NULL",
                    "Pass an interval such as '1 day'.");
  Datum by = PG_GETARG_DATUM(0);
  if (target.scope == Scope::session) {
    Clock clock = effective().clock;
    if (clock.mode == Mode::real)
      throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                      "unit_tests.advance: time is real, there is no mocked clock to advance",
                      "Call unit_tests.freeze() or unit_tests.travel(timestamp) first.");
    Clock next = advanced(clock, by);
    apply(target, &next);
    PG_RETURN_TIMESTAMPTZ(mocked_transaction(next));
  }
  // A shared clock is a read-modify-write that other sessions race with: the new clock is
  // written only if nobody changed it since it was read, else read again, so that concurrent
  // advances add up. Nothing runs under the shared lock but the compare and the copy.
  for (;;) {
    Clock clock;
    uint64 version = 0;
    if (!shared::latest(shared_oid(target), &clock, &version))
      throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                      target.scope == Scope::server
                          ? "unit_tests.advance: the server's clock is not set"
                          : "unit_tests.advance: the database's clock is not set",
                      "Freeze it or make it travel first.");
    Clock next = advanced(clock, by);
    TimestampTz when;
    if (shared::change(shared_oid(target), &next, &version, &when)) {
      note_own_change(when);
      PG_RETURN_TIMESTAMPTZ(mocked_transaction(next));
    }
    CHECK_FOR_INTERRUPTS();
  }
}

Datum unfreeze(FunctionCallInfo fcinfo) {
  require_time_control();
  Target target = target_args(fcinfo, 0, "unit_tests.unfreeze");
  // Leaving its own clock needs no privilege (a revoked role must be able to return to real time).
  if (target.scope != Scope::session) require_privilege(target);
  apply(target, nullptr);
  PG_RETURN_VOID();
}

Interval* interval_of(int64 microseconds) {
  auto* span = static_cast<Interval*>(palloc0(sizeof(Interval)));
  span->day = static_cast<int32>(microseconds / USECS_PER_DAY);
  span->time = microseconds % USECS_PER_DAY;
  return span;
}

// (mode, frozen_at, time_offset) of a clock into values[at..at+2].
void clock_values(const Clock& clock, Datum* values, bool* nulls) {
  values[0] = CStringGetTextDatum(mode_name(clock.mode));
  nulls[0] = false;
  nulls[1] = clock.mode != Mode::frozen;
  if (!nulls[1]) values[1] = TimestampTzGetDatum(clock.frozen_at);
  nulls[2] = clock.mode != Mode::travelled;
  if (!nulls[2]) values[2] = IntervalPGetDatum(interval_of(clock.offset));
}

void text_value(const char* text, Datum* value, bool* null) {
  *null = text == nullptr;
  if (text != nullptr) *value = CStringGetTextDatum(text);
}

// (mode text, frozen_at timestamptz, time_offset interval, enabled boolean, source text)
Datum time_status(FunctionCallInfo fcinfo) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "unit_tests.time_status must return a record");
  desc = BlessTupleDesc(desc);
  Datum values[5] = {};
  bool nulls[5] = {};
  const Effective& e = effective();
  clock_values(e.clock, values, nulls);
  values[3] = BoolGetDatum(time_control_enabled());
  text_value(source_name(e.source), &values[4], &nulls[4]);
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

void add_clock_row(const shared::ClockRow& row, void* arg) {
  auto* rsinfo = static_cast<ReturnSetInfo*>(arg);
  // (kind, pid, datid, mode, frozen_at, time_offset, source, changed_at, changed_by)
  Datum values[9] = {};
  bool nulls[9] = {};
  const char* kind = row.is_session               ? "session"
                     : row.database == InvalidOid ? "server"
                                                  : "database";
  values[0] = CStringGetTextDatum(kind);
  nulls[1] = !row.is_session;
  values[1] = Int32GetDatum(row.pid);
  nulls[2] = row.database == InvalidOid;
  values[2] = ObjectIdGetDatum(row.database);
  clock_values(row.clock, &values[3], &nulls[3]);
  text_value(source_name(row.source), &values[6], &nulls[6]);
  nulls[7] = row.is_session;
  values[7] = TimestampTzGetDatum(row.changed_at);
  nulls[8] = row.is_session;
  values[8] = ObjectIdGetDatum(row.changed_by);
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum clocks(FunctionCallInfo fcinfo) {
  if (!may_control_time())
    throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to read the clocks",
                    "unit_tests.clocks is for roles that control time: a superuser can allow a "
                    "role with SELECT unit_tests.grant_time_control('role').");
  InitMaterializedSRF(fcinfo, 0);
  shared::list(add_clock_row, fcinfo->resultinfo);
  return static_cast<Datum>(0);
}

}  // namespace
}  // namespace pgut::clock

PGUT_SQL_FUNCTION(pgut_freeze, pgut::clock::freeze)
PGUT_SQL_FUNCTION(pgut_travel, pgut::clock::travel)
PGUT_SQL_FUNCTION(pgut_advance, pgut::clock::advance)
PGUT_SQL_FUNCTION(pgut_unfreeze, pgut::clock::unfreeze)
PGUT_SQL_FUNCTION(pgut_time_status, pgut::clock::time_status)
PGUT_SQL_FUNCTION(pgut_clocks, pgut::clock::clocks)
