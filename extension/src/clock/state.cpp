// Over 400 lines on purpose: the settings' hooks and the resolution of the clock share the layout
// of the values' GUC "extra" (state.hpp); split, that layout would have to be exported.
#include "clock/state.hpp"

#include "clock/relative.hpp"
#include "clock/shared.hpp"
#include "pg/versions.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pgut::clock {

namespace detail {
bool any_setting = false;
UsedFlags* used = nullptr;
}  // namespace detail

namespace {

bool preloaded = false;
bool time_control_setting = false;
char* frozen_at_setting = nullptr;
char* time_offset_setting = nullptr;
char* own_change_setting = nullptr;

Settings current;
// The instant this session last changed a shared clock (pg_unit_tests.own_clock_change).
TimestampTz own_change_at = 0;
// Bumped whenever this session's settings change: a cached clock is then stale at once.
uint64 local_generation = 1;

struct Cached {
  bool valid = false;
  TimestampTz statement = 0;
  uint64 generation = 0;
  Effective effective;
};
Cached cached;

constexpr const char* kEnableHint =
    "Start the server with shared_preload_libraries = 'pg_unit_tests' and "
    "pg_unit_tests.time_control = on (the pg_unit_tests harness does this for its servers).";

// The parsed value of a setting, kept by PostgreSQL with the value (GUC "extra").
struct SettingExtra {
  Setting setting;
};

enum class Level { session, database, server };

Level level_of(int32 source) {
  if (source >= PGC_S_USER) return Level::session;
  if (source == PGC_S_DATABASE) return Level::database;
  return Level::server;
}

Source source_of(int32 source) {
  if (source >= PGC_S_OVERRIDE) return Source::session;
  if (source == PGC_S_CLIENT) return Source::connection;
  if (source >= PGC_S_USER) return Source::role;
  if (source == PGC_S_DATABASE) return Source::database_setting;
  return Source::server_setting;
}

// The settings' clock at one level, if any (frozen_at wins over time_offset).
bool settings_at(const Settings& s, Level level, Effective* out) {
  if (s.frozen_at.set && level_of(s.frozen_at.source) == level) {
    out->clock.mode = Mode::frozen;
    out->clock.frozen_at = s.frozen_at.value;
    out->source = source_of(s.frozen_at.source);
    return true;
  }
  if (s.time_offset.set && level_of(s.time_offset.source) == level) {
    out->clock.mode = Mode::travelled;
    out->clock.offset = s.time_offset.value;
    out->source = source_of(s.time_offset.source);
    return true;
  }
  return false;
}

// Only client sessions (and their parallel workers) get a mocked clock. Autovacuum, background
// workers and WAL senders keep real time even when the server starts frozen (--freeze).
bool eligible() {
  return is_client_session() || IsParallelWorker();
}

void settings_changed() {
  detail::any_setting = current.frozen_at.set || current.time_offset.set;
  local_generation++;
  shared::publish(current);
}

bool reject_when_disabled() {
  if (time_control_enabled()) return false;
  GUC_check_errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
  GUC_check_errmsg("time control is not enabled on this server");
  GUC_check_errhint("%s", kEnableHint);
  return true;
}

// Replaces a setting's text with its canonical form (in the memory PostgreSQL keeps settings in).
bool replace_value(char** newval, const char* canonical) {
  char* copy = pg::guc_strdup(canonical);
  if (copy == nullptr) return false;
  pg::guc_free(*newval);
  *newval = copy;
  return true;
}

// timestamptz input without ereport (a check hook reports through GUC_check_errmsg instead).
// `shown` is the text the user gave, for the messages.
bool parse_timestamptz(const char* text, const char* shown, TimestampTz* result) {
  DateTimeTokens tokens;
  int dtype = 0;
  int tz = 0;
  fsec_t fsec = 0;
  struct pg_tm tt;
  int dterr = tokenize_datetime(text, &tokens) ? 0 : DTERR_BAD_FORMAT;
  if (dterr == 0)
    dterr = pg::decode_date_time(tokens.field, tokens.ftype, tokens.count, &dtype, &tt, &fsec, &tz);
  if (dterr == DTERR_FIELD_OVERFLOW || dterr == DTERR_MD_FIELD_OVERFLOW) {
    GUC_check_errmsg("date/time field value out of range: \"%s\"", shown);
    return false;
  }
  if (dterr == DTERR_TZDISP_OVERFLOW) {
    GUC_check_errmsg("time zone displacement out of range: \"%s\"", shown);
    return false;
  }
  if (dterr != 0) {
    GUC_check_errmsg("invalid timestamp for %s: \"%s\"", kFrozenAt, shown);
    GUC_check_errhint("Use a timestamp with time zone such as '2024-01-31 12:00:00+00'.");
    return false;
  }
  switch (dtype) {
    case DTK_DATE:
      if (tm2timestamp(&tt, fsec, &tz, result) != 0 || !IS_VALID_TIMESTAMP(*result)) {
        GUC_check_errmsg("timestamp out of range: \"%s\"", shown);
        return false;
      }
      return true;
    case DTK_EPOCH:
      *result = SetEpochTimestamp();
      return true;
    case DTK_LATE:
    case DTK_EARLY:
      GUC_check_errmsg("time cannot be frozen at %s", shown);
      GUC_check_errhint("Use a finite timestamp.");
      return false;
    default:
      GUC_check_errmsg("invalid timestamp for %s: \"%s\"", kFrozenAt, shown);
      return false;
  }
}

// 'now', 'today' ... in pg_unit_tests.frozen_at mean one instant only where the value is applied
// once, at a known moment: in a session (SET, the connection's options: the session's current
// time) and on the server's command line (-c, --freeze: resolved once by the postmaster, whose
// value every backend inherits). A configuration file is read again by every process at every
// reload, ALTER ROLE/DATABASE ... SET is applied again by every new session and a function's SET
// clause at every call (all three are checked with these sources before they are stored): there the
// word would mean a different instant each time, so it is refused.
bool relative_allowed(GucSource source) {
  if (source == PGC_S_ARGV) return !IsUnderPostmaster;
  return source >= PGC_S_CLIENT && source != PGC_S_TEST;
}

// The instant the words are relative to: the session's current time (mocked or not), or, in the
// postmaster, the real time.
TimestampTz relative_base() {
  if (!IsUnderPostmaster || !IsTransactionState()) return GetCurrentTimestamp();
  return session_now();
}

bool check_frozen_at_value(char** newval, void** extra, GucSource source) {
  auto* parsed = static_cast<SettingExtra*>(pg::guc_alloc(sizeof(SettingExtra)));
  if (parsed == nullptr) return false;
  parsed->setting = Setting{};
  parsed->setting.source = source;
  if (*newval != nullptr && **newval != '\0') {
    if (reject_when_disabled()) {
      pg::guc_free(parsed);
      return false;
    }
    DateTimeTokens tokens;
    char resolved[MAXDATELEN * 2 + MAXDATEFIELDS];
    const char* text = *newval;
    if (tokenize_datetime(*newval, &tokens) && tokens.relative > 0) {
      if (!relative_allowed(source)) {
        pg::guc_free(parsed);
        GUC_check_errmsg(
            "%s = '%s' names the current time, a different instant each time "
            "this setting is applied",
            kFrozenAt, *newval);
        GUC_check_errdetail(
            "Configuration files are read again by every process at every reload; ALTER ROLE, "
            "ALTER DATABASE and function SET clauses are applied again by every session or call.");
        GUC_check_errhint(
            "Write the instant itself, such as '2024-01-31 12:00:00+00', or move "
            "every session's clock at run time with unit_tests.freeze(..., "
            "scope => 'database') or scope => 'server'.");
        return false;
      }
      if (!substitute_relative(tokens, relative_base(), resolved, sizeof resolved)) {
        pg::guc_free(parsed);
        GUC_check_errmsg("timestamp out of range: \"%s\"", *newval);
        return false;
      }
      text = resolved;
    }
    if (!parse_timestamptz(text, *newval, &parsed->setting.value)) {
      pg::guc_free(parsed);
      return false;
    }
    parsed->setting.set = true;
    // Canonical text: ISO 8601 in UTC, whatever the session's DateStyle and TimeZone.
    char buf[MAXDATELEN + 1];
    if (!format_timestamp(parsed->setting.value, buf)) {
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

bool check_frozen_at(char** newval, void** extra, GucSource source) {
  return remember_rejection(check_frozen_at_value(newval, extra, source), kFrozenAt);
}

void assign_frozen_at(const char*, void* extra) {
  const auto* parsed = static_cast<const SettingExtra*>(extra);
  current.frozen_at = parsed != nullptr ? parsed->setting : Setting{};
  settings_changed();
}

bool check_time_offset_value(char** newval, void** extra, GucSource source) {
  auto* parsed = static_cast<SettingExtra*>(pg::guc_alloc(sizeof(SettingExtra)));
  if (parsed == nullptr) return false;
  parsed->setting = Setting{};
  parsed->setting.source = source;
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
    // An offset of zero is kept: at the session level it means real time whatever the database
    // or server clock says (travel() to the current instant).
    parsed->setting.value = total;
    parsed->setting.set = true;
    // Canonical text: days and time, IntervalStyle postgres (any interval input reads it back).
    char buf[MAXDATELEN + 1];
    format_offset(total, buf);
    if (!replace_value(newval, buf)) {
      pg::guc_free(parsed);
      return false;
    }
  }
  *extra = parsed;
  return true;
}

bool check_time_offset(char** newval, void** extra, GucSource source) {
  return remember_rejection(check_time_offset_value(newval, extra, source), kTimeOffset);
}

void assign_time_offset(const char*, void* extra) {
  const auto* parsed = static_cast<const SettingExtra*>(extra);
  current.time_offset = parsed != nullptr ? parsed->setting : Setting{};
  settings_changed();
}

struct OwnChangeExtra {
  TimestampTz at;
};

bool check_own_change(char** newval, void** extra, GucSource) {
  auto* parsed = static_cast<OwnChangeExtra*>(pg::guc_alloc(sizeof(OwnChangeExtra)));
  if (parsed == nullptr) return false;
  parsed->at = 0;
  if (*newval != nullptr && **newval != '\0') {
    char* end = nullptr;
    long long value = std::strtoll(*newval, &end, 10);
    if (end == *newval || *end != '\0') {
      pg::guc_free(parsed);
      GUC_check_errmsg("invalid value for %s: \"%s\"", kOwnChange, *newval);
      return false;
    }
    parsed->at = static_cast<TimestampTz>(value);
  }
  *extra = parsed;
  return true;
}

void assign_own_change(const char*, void* extra) {
  const auto* parsed = static_cast<const OwnChangeExtra*>(extra);
  own_change_at = parsed != nullptr ? parsed->at : 0;
  local_generation++;
}

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::frozen:
      return "frozen";
    case Mode::travelled:
      return "travelled";
    case Mode::real:
    default:
      return "real";
  }
}

const char* source_name(Source source) {
  switch (source) {
    case Source::session:
      return "session";
    case Source::connection:
      return "connection";
    case Source::role:
      return "role setting";
    case Source::database_clock:
      return "database clock";
    case Source::database_setting:
      return "database setting";
    case Source::server_clock:
      return "server clock";
    case Source::server_setting:
      return "server setting";
    case Source::none:
    default:
      return nullptr;
  }
}

Effective resolve(const Settings& s, const Clock* database, const Clock* server) {
  Effective out;
  if (settings_at(s, Level::session, &out)) return out;
  if (database != nullptr && database->mode != Mode::real) {
    out.clock = *database;
    out.source = Source::database_clock;
    return out;
  }
  if (settings_at(s, Level::database, &out)) return out;
  if (server != nullptr && server->mode != Mode::real) {
    out.clock = *server;
    out.source = Source::server_clock;
    return out;
  }
  if (settings_at(s, Level::server, &out)) return out;
  return Effective{};
}

const Settings& settings() {
  return current;
}

void note_own_change(TimestampTz when) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(when));
  // Like SET: rolled back with the transaction (the change itself is not; then this session
  // sees it at its next statement, like every other session).
  set_config_option(kOwnChange, buf, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
}

namespace detail {

const Effective& effective_slow() {
  const TimestampTz statement = GetCurrentStatementStartTimestamp();
  if (cached.valid && cached.statement == statement && cached.generation == local_generation)
    return cached.effective;
  Effective resolved;
  if (eligible()) {
    shared::View view;
    shared::view(MyDatabaseId, statement > own_change_at ? statement : own_change_at, &view);
    resolved = resolve(current, view.has_database ? &view.database : nullptr,
                       view.has_server ? &view.server : nullptr);
  }
  cached.valid = true;
  cached.statement = statement;
  cached.generation = local_generation;
  cached.effective = resolved;
  return cached.effective;
}

}  // namespace detail

TimestampTz offset_instant(TimestampTz real, int64 offset) {
  TimestampTz result = 0;
  if (pg_add_s64_overflow(real, offset, &result))
    return offset > 0 ? END_TIMESTAMP - 1 : MIN_TIMESTAMP;
  if (result >= END_TIMESTAMP) return END_TIMESTAMP - 1;
  if (result < MIN_TIMESTAMP) return MIN_TIMESTAMP;
  return result;
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

bool time_control_enabled() {
  return preloaded && time_control_setting;
}

bool is_client_session() {
  // A single-user backend (postgres --single) has no postmaster; the postmaster itself runs no SQL.
  return MyBackendType == B_BACKEND || !IsUnderPostmaster;
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

void define_settings(bool preloading) {
  preloaded = preloading;
  if (preloading) {
    DefineCustomBoolVariable(
        kTimeControl, "Enables time control (unit_tests.freeze() and friends).",
        "Only for test servers: a role that controls time can forge DEFAULT now() columns.",
        &time_control_setting, false, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  }
  DefineCustomStringVariable(
      kFrozenAt, "The instant at which the clocks stand still; empty for real time.",
      "Set by unit_tests.freeze(). Takes precedence over pg_unit_tests.time_offset.",
      &frozen_at_setting, "", PGC_SUSET, 0, check_frozen_at, assign_frozen_at, nullptr);
  DefineCustomStringVariable(
      kTimeOffset, "An interval added to real time by the clocks; empty for none.",
      "Set by unit_tests.travel(); the clocks keep running.", &time_offset_setting, "", PGC_SUSET,
      0, check_time_offset, assign_time_offset, nullptr);
  DefineCustomStringVariable(
      kOwnChange, "Internal: when this session last changed a database or server clock.",
      "Makes the session's own change visible to it (and its parallel workers) at once.",
      &own_change_setting, "", PGC_USERSET,
      GUC_NO_SHOW_ALL | GUC_NO_RESET_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
      check_own_change, assign_own_change, nullptr);
  MarkGUCPrefixReserved("pg_unit_tests");
  if (rejected_setting != nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("invalid %s in the server's settings: %s", rejected_setting, rejected_reason),
             errhint("Fix or remove the setting; a server that was asked to freeze time "
                     "does not start with real time.")));
}

}  // namespace pgut::clock
