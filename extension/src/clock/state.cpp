#include "clock/state.hpp"

#include <cstdio>
#include <cstring>

#include "pg/versions.hpp"

namespace pgut::clock {

namespace detail {
Effective session;
}  // namespace detail

namespace {

bool preloaded = false;
bool time_control_setting = false;
char* frozen_at_setting = nullptr;
char* time_offset_setting = nullptr;

// The two settings' parsed values; the mode is derived from both (frozen_at wins).
bool frozen_set = false;
TimestampTz frozen_value = 0;
int64 offset_value = 0;

constexpr const char* kEnableHint =
    "Start the server with shared_preload_libraries = 'pg_unit_tests' and "
    "pg_unit_tests.time_control = on (the pg_unit_tests harness does this for its servers).";

struct TimestampExtra {
  bool set;
  TimestampTz value;
};

struct OffsetExtra {
  int64 value;
};

void update_mode() {
  Clock& clock = detail::session.clock;
  clock = Clock{};
  if (frozen_set) {
    clock.frozen_at = frozen_value;
    clock.mode = Mode::frozen;
  } else if (offset_value != 0) {
    clock.offset = offset_value;
    clock.mode = Mode::travelled;
  }
}

bool reject_when_disabled() {
  if (time_control_enabled()) return false;
  GUC_check_errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
  GUC_check_errmsg("time control is not enabled on this server");
  GUC_check_errhint("%s", kEnableHint);
  return true;
}

// Replaces a setting's text with its canonical form (in GUC memory, like every GUC string).
bool replace_value(char** newval, const char* canonical) {
  char* copy = pg::guc_strdup(canonical);
  if (copy == nullptr) return false;
  pg::guc_free(*newval);
  *newval = copy;
  return true;
}

// timestamptz input without ereport (a check hook reports through GUC_check_errmsg instead).
bool parse_timestamptz(const char* text, TimestampTz* result) {
  char workbuf[MAXDATELEN + MAXDATEFIELDS];
  char* field[MAXDATEFIELDS];
  int ftype[MAXDATEFIELDS];
  int nf = 0;
  int dtype = 0;
  int tz = 0;
  fsec_t fsec = 0;
  struct pg_tm tt;
  int dterr = ParseDateTime(text, workbuf, sizeof workbuf, field, ftype, MAXDATEFIELDS, &nf);
  if (dterr == 0) dterr = pg::decode_date_time(field, ftype, nf, &dtype, &tt, &fsec, &tz);
  if (dterr == DTERR_FIELD_OVERFLOW || dterr == DTERR_MD_FIELD_OVERFLOW) {
    GUC_check_errmsg("date/time field value out of range: \"%s\"", text);
    return false;
  }
  if (dterr == DTERR_TZDISP_OVERFLOW) {
    GUC_check_errmsg("time zone displacement out of range: \"%s\"", text);
    return false;
  }
  if (dterr != 0) {
    GUC_check_errmsg("invalid timestamp for %s: \"%s\"", kFrozenAt, text);
    GUC_check_errhint("Use a timestamp with time zone such as '2024-01-31 12:00:00+00'.");
    return false;
  }
  switch (dtype) {
    case DTK_DATE:
      if (tm2timestamp(&tt, fsec, &tz, result) != 0 || !IS_VALID_TIMESTAMP(*result)) {
        GUC_check_errmsg("timestamp out of range: \"%s\"", text);
        return false;
      }
      return true;
    case DTK_EPOCH:
      *result = SetEpochTimestamp();
      return true;
    case DTK_LATE:
    case DTK_EARLY:
      GUC_check_errmsg("time cannot be frozen at %s", text);
      GUC_check_errhint("Use a finite timestamp.");
      return false;
    default:
      GUC_check_errmsg("invalid timestamp for %s: \"%s\"", kFrozenAt, text);
      return false;
  }
}

bool check_frozen_at_value(char** newval, void** extra) {
  auto* parsed = static_cast<TimestampExtra*>(pg::guc_alloc(sizeof(TimestampExtra)));
  if (parsed == nullptr) return false;
  parsed->set = false;
  parsed->value = 0;
  if (*newval != nullptr && **newval != '\0') {
    if (reject_when_disabled() || !parse_timestamptz(*newval, &parsed->value)) {
      pg::guc_free(parsed);
      return false;
    }
    parsed->set = true;
    // Canonical text: ISO 8601 in UTC, whatever the session's DateStyle and TimeZone.
    char buf[MAXDATELEN + 1];
    if (!format_timestamp(parsed->value, buf)) {
      pg::guc_free(parsed);
      GUC_check_errmsg("timestamp out of range: \"%s\"", *newval);
      return false;
    }
    if (!replace_value(newval, buf)) {
      pg::guc_free(parsed);
      return false;
    }
  }
  *extra = parsed;
  return true;
}

// A value rejected while the postmaster preloads the library (command line, configuration file):
// PostgreSQL only warns and would start with real time; define_settings() refuses to start instead.
const char* rejected_setting = nullptr;
char rejected_reason[256];

bool remember_rejection(bool ok, const char* name) {
  if (!ok && process_shared_preload_libraries_in_progress && rejected_setting == nullptr) {
    rejected_setting = name;
    std::snprintf(rejected_reason, sizeof rejected_reason, "%s",
                  GUC_check_errmsg_string ? GUC_check_errmsg_string : "invalid value");
  }
  return ok;
}

bool check_frozen_at(char** newval, void** extra, GucSource) {
  return remember_rejection(check_frozen_at_value(newval, extra), kFrozenAt);
}

void assign_frozen_at(const char*, void* extra) {
  const auto* parsed = static_cast<const TimestampExtra*>(extra);
  frozen_set = parsed != nullptr && parsed->set;
  frozen_value = frozen_set ? parsed->value : 0;
  update_mode();
}

bool check_time_offset_value(char** newval, void** extra) {
  auto* parsed = static_cast<OffsetExtra*>(pg::guc_alloc(sizeof(OffsetExtra)));
  if (parsed == nullptr) return false;
  parsed->value = 0;
  if (*newval != nullptr && **newval != '\0') {
    if (reject_when_disabled()) {
      pg::guc_free(parsed);
      return false;
    }
    char workbuf[256];
    char* field[MAXDATEFIELDS];
    int ftype[MAXDATEFIELDS];
    int nf = 0;
    int dtype = 0;
    struct pg_itm_in itm_in;
    Interval span;
    int dterr = ParseDateTime(*newval, workbuf, sizeof workbuf, field, ftype, MAXDATEFIELDS, &nf);
    if (dterr == 0) dterr = DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE, &dtype, &itm_in);
    if (dterr == DTERR_BAD_FORMAT) dterr = DecodeISO8601Interval(*newval, &dtype, &itm_in);
    if (dterr != 0 || dtype != DTK_DELTA) {
      pg::guc_free(parsed);
      GUC_check_errmsg("invalid interval for %s: \"%s\"", kTimeOffset, *newval);
      GUC_check_errhint("Use an interval such as '-3 days 04:00:00'.");
      return false;
    }
    int64 total = 0;
    if (itmin2interval(&itm_in, &span) != 0 ||
        pg_mul_s64_overflow(span.day, USECS_PER_DAY, &total) ||
        pg_add_s64_overflow(total, span.time, &total)) {
      pg::guc_free(parsed);
      GUC_check_errmsg("interval out of range: \"%s\"", *newval);
      return false;
    }
    if (span.month != 0) {
      pg::guc_free(parsed);
      GUC_check_errmsg("%s cannot hold months or years: \"%s\"", kTimeOffset, *newval);
      GUC_check_errhint("Months have no fixed length: use days, or unit_tests.travel(timestamp).");
      return false;
    }
    TimestampTz target = 0;
    if (pg_add_s64_overflow(GetCurrentTimestamp(), total, &target) || !IS_VALID_TIMESTAMP(target)) {
      pg::guc_free(parsed);
      GUC_check_errmsg("time offset out of range: \"%s\"", *newval);
      GUC_check_errhint("The travelled clock must stay within PostgreSQL's timestamp range.");
      return false;
    }
    parsed->value = total;
    // Canonical text: days and time, IntervalStyle postgres (any interval input reads it back).
    char buf[MAXDATELEN + 1] = "";
    if (total != 0) format_offset(total, buf);
    if (!replace_value(newval, buf)) {
      pg::guc_free(parsed);
      return false;
    }
  }
  *extra = parsed;
  return true;
}

bool check_time_offset(char** newval, void** extra, GucSource) {
  return remember_rejection(check_time_offset_value(newval, extra), kTimeOffset);
}

void assign_time_offset(const char*, void* extra) {
  const auto* parsed = static_cast<const OffsetExtra*>(extra);
  offset_value = parsed != nullptr ? parsed->value : 0;
  update_mode();
}

}  // namespace

namespace detail {

// Only client sessions (and their parallel workers) get a mocked clock. Autovacuum, background
// workers and WAL senders keep real time even when the server starts frozen (--freeze).
bool eligible() {
  return MyBackendType == B_BACKEND || IsParallelWorker();
}

}  // namespace detail

bool time_control_enabled() {
  return preloaded && time_control_setting;
}

bool format_timestamp(TimestampTz value, char* buf) {
  struct pg_tm tt;
  fsec_t fsec = 0;
  if (timestamp2tm(value, nullptr, &tt, &fsec, nullptr, nullptr) != 0) return false;
  tt.tm_isdst = 0;  // a known zone (UTC), so that the offset "+00" is printed
  EncodeDateTime(&tt, fsec, true, 0, nullptr, USE_ISO_DATES, buf);
  return true;
}

void format_offset(int64 microseconds, char* buf) {
  Interval span;
  span.month = 0;
  span.day = static_cast<int32>(microseconds / USECS_PER_DAY);
  span.time = microseconds % USECS_PER_DAY;
  struct pg_itm itm;
  interval2itm(span, &itm);
  EncodeInterval(&itm, INTSTYLE_POSTGRES, buf);
}

TimestampTz offset_instant(TimestampTz real, int64 offset) {
  return real + offset;
}

TimestampTz mocked_transaction(const Clock& clock) {
  if (clock.mode == Mode::frozen) return clock.frozen_at;
  return offset_instant(GetCurrentTransactionStartTimestamp(),
                        clock.mode == Mode::travelled ? clock.offset : 0);
}

TimestampTz mocked_statement(const Clock& clock) {
  if (clock.mode == Mode::frozen) return clock.frozen_at;
  return offset_instant(GetCurrentStatementStartTimestamp(),
                        clock.mode == Mode::travelled ? clock.offset : 0);
}

TimestampTz mocked_wall(const Clock& clock) {
  if (clock.mode == Mode::frozen) return clock.frozen_at;
  return offset_instant(GetCurrentTimestamp(), clock.mode == Mode::travelled ? clock.offset : 0);
}

TimestampTz session_now() {
  return mocked_transaction(effective().clock);
}

void define_settings(bool preloading) {
  preloaded = preloading;
  if (preloading) {
    DefineCustomBoolVariable(
        kTimeControl, "Enables per-session time control (unit_tests.freeze() and friends).",
        "Only for test servers: a role that controls time can forge DEFAULT now() columns.",
        &time_control_setting, false, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  }
  DefineCustomStringVariable(
      kFrozenAt, "The instant at which this session's clocks stand still; empty for real time.",
      "Set by unit_tests.freeze(). Takes precedence over pg_unit_tests.time_offset.",
      &frozen_at_setting, "", PGC_SUSET, 0, check_frozen_at, assign_frozen_at, nullptr);
  DefineCustomStringVariable(
      kTimeOffset, "An interval added to real time by this session's clocks; empty for none.",
      "Set by unit_tests.travel(); the clocks keep running.", &time_offset_setting, "", PGC_SUSET,
      0, check_time_offset, assign_time_offset, nullptr);
  MarkGUCPrefixReserved("pg_unit_tests");
  if (rejected_setting != nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("invalid %s in the server's settings: %s", rejected_setting, rejected_reason),
             errhint("Fix or remove the setting; a server that was asked to freeze time "
                     "does not start with real time.")));
}

}  // namespace pgut::clock
