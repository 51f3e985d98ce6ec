// The session's clock: real, frozen at an instant, or travelled by an offset from real time.
//
// The state is held in two custom settings (pg_unit_tests.frozen_at, pg_unit_tests.time_offset), so
// PostgreSQL's GUC machinery gives it the semantics of a setting for free: per session, undone by
// ROLLBACK and ROLLBACK TO SAVEPOINT, scoped by a function's SET clause, cleared by RESET ALL and
// DISCARD ALL, copied into parallel workers. The assign hooks cache the parsed state here, so the
// clock functions read two words and never parse a string.
//
// Nothing here writes PostgreSQL's own transaction and statement timestamps: the clock functions
// and the date/time input functions are redirected to read the mocked clock instead (builtins.cpp),
// and the SQL keywords CURRENT_DATE, CURRENT_TIMESTAMP ... are rewritten into calls of now() in
// every plan (plans.cpp). Each computes the mocked time from the state and the real timestamps.
#pragma once

#include "pg/postgres.hpp"

namespace pgut::clock {

enum class Mode : int32 { real = 0, frozen = 1, travelled = 2 };

struct Clock {
  Mode mode = Mode::real;
  TimestampTz frozen_at = 0;  // Mode::frozen
  int64 offset = 0;           // Mode::travelled: microseconds added to real time
};

struct Effective {
  Clock clock;
};

inline constexpr const char* kFrozenAt = "pg_unit_tests.frozen_at";
inline constexpr const char* kTimeOffset = "pg_unit_tests.time_offset";
inline constexpr const char* kTimeControl = "pg_unit_tests.time_control";

// True in a server started with the extension preloaded and time control on.
bool time_control_enabled();
// Defines the settings; time_control (PGC_POSTMASTER) only while preloading.
void define_settings(bool preloading);

namespace detail {
extern Effective session;  // the settings' clock (written by the assign hooks only)
bool eligible();           // a client session or one of its parallel workers
}  // namespace detail

inline constexpr Effective kRealTime{};

// The clock this session sees: its settings' (frozen_at wins), and real time in processes that are
// not client sessions. Two loads when time is real.
inline const Effective& effective() {
  if (detail::session.clock.mode == Mode::real || !detail::eligible()) return kRealTime;
  return detail::session;
}

// The mocked transaction (now()), statement and wall clocks for a mocked clock.
TimestampTz mocked_transaction(const Clock& clock);
TimestampTz mocked_statement(const Clock& clock);
TimestampTz mocked_wall(const Clock& clock);
// now() as the session sees it, mocked or not.
TimestampTz session_now();

// Adds an offset to a real instant.
TimestampTz offset_instant(TimestampTz real, int64 offset);

// Canonical setting texts: ISO 8601 in UTC, and days plus time. buf: at least MAXDATELEN + 1.
bool format_timestamp(TimestampTz value, char* buf);
void format_offset(int64 microseconds, char* buf);

}  // namespace pgut::clock
