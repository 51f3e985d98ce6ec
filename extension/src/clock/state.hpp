// The clock a session sees, and where it comes from.
//
// Three levels, the most specific wins (as with settings):
//   1. the session's own clock: the settings pg_unit_tests.frozen_at / time_offset when this
//      session, its connection or its role set them (freeze(), SET, PGOPTIONS, ALTER ROLE ... SET);
//   2. the database clock (unit_tests.freeze(..., scope => 'database'), in shared memory), else
//      the settings when they come from ALTER DATABASE ... SET;
//   3. the server clock (scope => 'server'), else the settings when they come from the server's
//      configuration (postgresql.conf, ALTER SYSTEM, -c on the command line: --freeze).
// At levels 2 and 3 the clock set at run time wins over the configured one. Within a level a
// frozen instant wins over an offset. Where a setting comes from is its GucSource, recorded by the
// check hook in the value's "extra" (so it follows the value through SET LOCAL, rollbacks,
// RESET and parallel workers exactly as PostgreSQL restores values).
//
// Why settings for the session: PostgreSQL's GUC machinery gives the session clock the semantics
// of a setting for free (undone by ROLLBACK, scoped by a function's SET clause, cleared by RESET
// ALL and DISCARD ALL, copied into parallel workers). Why shared memory for databases and the
// server: every session of a database must see a change at its next statement, without a reload
// and without a race; the settings of other backends cannot be written.
//
// Nothing here writes PostgreSQL's own timestamps: the clock functions and the date/time input
// functions are redirected to read the mocked clock instead (builtins.cpp), and the SQL keywords
// CURRENT_DATE, CURRENT_TIMESTAMP ... are rewritten into calls of now() in every plan (plans.cpp).
//
// A statement sees one clock from its start to its end: effective() caches the resolved clock per
// statement start timestamp and local generation (bumped when this session changes its settings),
// and reads the shared clocks as they were when the statement started (shared.cpp keeps a short
// history), so a change made by another session is seen at the next statement, by the leader and
// its parallel workers alike. A change this session makes itself is seen at once.
#pragma once

#include "pg/postgres.hpp"

namespace pgut::clock {

enum class Mode : int32 { real = 0, frozen = 1, travelled = 2 };

struct Clock {
  Mode mode = Mode::real;
  TimestampTz frozen_at = 0;  // Mode::frozen
  int64 offset = 0;           // Mode::travelled: microseconds added to real time
};

// Where a session's clock comes from, in the order of precedence.
enum class Source : int32 {
  none = 0,          // real time
  session,           // freeze()/travel()/advance()/SET in this session, a function's SET clause
  connection,        // the connection's options (PGOPTIONS, the startup packet)
  role,              // ALTER ROLE [IN DATABASE] ... SET
  database_clock,    // scope => 'database'
  database_setting,  // ALTER DATABASE ... SET
  server_clock,      // scope => 'server'
  server_setting,    // postgresql.conf, ALTER SYSTEM, -c on the server's command line
};

const char* mode_name(Mode mode);
const char* source_name(Source source);

// One clock setting as a session has it: its value and the GucSource it came from.
struct Setting {
  bool set = false;
  int64 value = 0;  // frozen_at: the instant; time_offset: microseconds
  int32 source = 0;
};

// A session's two settings (also what it publishes for unit_tests.clocks).
struct Settings {
  Setting frozen_at;
  Setting time_offset;
};

struct Effective {
  Clock clock;
  Source source = Source::none;
};

// The precedence rules: the clock a session with these settings sees, given the clocks of its
// database and of the server (nullptr: not set).
Effective resolve(const Settings& settings, const Clock* database, const Clock* server);

inline constexpr const char* kFrozenAt = "pg_unit_tests.frozen_at";
inline constexpr const char* kTimeOffset = "pg_unit_tests.time_offset";
inline constexpr const char* kTimeControl = "pg_unit_tests.time_control";
inline constexpr const char* kOwnChange = "pg_unit_tests.own_clock_change";

// True in a server started with the extension preloaded and time control on.
bool time_control_enabled();
// A client backend or a single-user backend (not autovacuum, a background worker, a WAL sender).
bool is_client_session();
// Defines the settings; time_control (PGC_POSTMASTER) only while preloading.
void define_settings(bool preloading);

// This session's settings (as cached by the assign hooks).
const Settings& settings();
// Records that this session changed a shared clock at `when`, so it sees the change at once.
void note_own_change(TimestampTz when);

namespace detail {
inline constexpr uint32 kDatabaseBuckets = 256;
// In shared memory (shared.cpp): set once, and never cleared, when a clock is first set for the
// server or for a database whose OID falls into a bucket.
struct UsedFlags {
  pg_atomic_uint32 server;
  pg_atomic_uint32 database[kDatabaseBuckets];
};
extern UsedFlags* used;   // nullptr without shared memory
extern bool any_setting;  // a clock setting is set, at any level
const Effective& effective_slow();
}  // namespace detail

inline constexpr Effective kRealTime{};

// The clock of the current statement. A few loads when no clock can apply to this session.
inline const Effective& effective() {
  if (!detail::any_setting) {
    detail::UsedFlags* used = detail::used;
    if (used == nullptr ||
        (pg_atomic_read_u32(&used->server) |
         pg_atomic_read_u32(&used->database[MyDatabaseId % detail::kDatabaseBuckets])) == 0)
      return kRealTime;
  }
  return detail::effective_slow();
}

// The mocked transaction (now()), statement and wall clocks for a mocked effective clock; a
// travelled clock stops at the ends of PostgreSQL's timestamp range.
TimestampTz mocked_transaction(const Clock& clock);
TimestampTz mocked_statement(const Clock& clock);
TimestampTz mocked_wall(const Clock& clock);
// now() as the session sees it, mocked or real.
TimestampTz session_now();

// Adds an offset to a real instant, stopping at the ends of the timestamp range.
TimestampTz offset_instant(TimestampTz real, int64 offset);

// Canonical setting texts: ISO 8601 in UTC, and days plus time. buf: at least MAXDATELEN + 1.
bool format_timestamp(TimestampTz value, char* buf);
void format_offset(int64 microseconds, char* buf);

}  // namespace pgut::clock
