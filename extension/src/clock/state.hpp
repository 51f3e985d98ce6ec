// The session's clock: real, frozen at an instant, or travelled by an offset from real time.
//
// The state is held in two custom settings (pg_unit_tests.frozen_at, pg_unit_tests.time_offset), so
// PostgreSQL's GUC machinery gives it the semantics of a setting for free: per session, undone by
// ROLLBACK and ROLLBACK TO SAVEPOINT, scoped by a function's SET clause, cleared by RESET ALL and
// DISCARD ALL, copied into parallel workers. The assign hooks cache the parsed state here, so the
// hot paths (hooks, clock functions) read two words and never parse a string.
//
// PostgreSQL's SQL-visible clocks (now(), CURRENT_*, 'now' literals, statement_timestamp()) read
// two statics of xact.c, the transaction and statement start timestamps. sync() writes the mocked
// values into them through SetParallelStartTimestamps(), the only exported writer, and remembers
// the real ones so that unfreezing, rolling back or the end of a statement can put them back.
#pragma once

#include "pg/postgres.hpp"

namespace pgut::clock {

enum class Mode : int { real = 0, frozen = 1, travelled = 2 };

struct State {
  Mode mode = Mode::real;
  TimestampTz frozen_at = 0;  // Mode::frozen
  int64 offset = 0;           // Mode::travelled: microseconds added to real time
};

// The cached state (written by the settings' assign hooks only).
extern State state;
// True when the timestamps of the current transaction may hold values written by sync().
extern bool timestamps_touched;
// True in a backend of a server started with the extension preloaded and time control on.
extern bool active;

inline constexpr const char* kFrozenAt = "pg_unit_tests.frozen_at";
inline constexpr const char* kTimeOffset = "pg_unit_tests.time_offset";
inline constexpr const char* kTimeControl = "pg_unit_tests.time_control";

// Defines the settings; time_control (PGC_POSTMASTER) only while preloading.
void define_settings(bool preloading);
// A client session starts: the settings it inherited from the postmaster now apply (the postmaster
// and other server processes keep real time).
void on_session_start();
// Preloaded and pg_unit_tests.time_control = on.
bool time_control_enabled();

void sync_slow();
// Brings the transaction and statement timestamps in line with the state. Cheap when time is real.
inline void sync() {
  if (state.mode == Mode::real && !timestamps_touched) return;
  sync_slow();
}
// Would sync() change the transaction timestamp (i.e. was it read with a stale value)?
bool transaction_timestamp_stale();
// Puts the real statement timestamp back at the end of a top-level statement, so that
// log_min_duration_statement and friends measure real durations.
void restore_real_statement_timestamp();

// Canonical setting texts: ISO 8601 in UTC, and days plus time. buf: at least MAXDATELEN + 1.
bool format_timestamp(TimestampTz value, char* buf);
void format_offset(int64 microseconds, char* buf);

// The real start of the current transaction (even while the static holds a mocked value).
TimestampTz real_transaction_timestamp();
// The mocked wall clock (clock_timestamp()); only meaningful when state.mode != Mode::real.
TimestampTz mocked_clock();

}  // namespace pgut::clock
