// The database and server clocks, in shared memory, and every client session's published clock
// settings (for unit_tests.clocks).
//
// A clock change is a new version {changed_at, clock} pushed onto a short history under an
// LWLock, then a global generation counter is bumped. A session reads the versions in effect at
// its statement's start (see state.hpp); it copies the histories of its database and of the
// server only when the generation moved, and never looks at shared memory at all while no clock
// was ever set for its database (a hashed, monotonic flag) or for the server: a database clock
// costs nothing to the sessions of other databases.
//
// Nothing is held across statements: the lock is taken for a copy, so a session that dies (or is
// killed) leaves no lock behind. The clocks belong to the database and the server, not to the
// session that set them: they stay until released (or their database is dropped), whoever set them
// and whether or not that session still exists. A server crash restart (a backend killed with
// SIGKILL) reinitialises shared memory and with it every clock.
#pragma once

#include "clock/state.hpp"

namespace pgut::clock::shared {

// Installs the shared memory hooks (while preloading).
void request_memory();

// The database and server clocks of a statement that started at as_of.
struct View {
  bool has_database = false;
  Clock database;
  bool has_server = false;
  Clock server;
};
void view(Oid database, TimestampTz as_of, View* out);

// Sets (or, with clock == nullptr, releases) the clock of a database (InvalidOid: the server's);
// *when is the instant of the change. With `expected` (a generation from latest()), only if the
// clock is still that version, else false and nothing changes: a read-modify-write (advance) is
// atomic, retried by the caller. Errors when every database clock slot is taken.
bool change(Oid database, const Clock* clock, const uint64* expected, TimestampTz* when);
// The latest clock of a database (InvalidOid: the server's) and its version; false if none is set.
bool latest(Oid database, Clock* out, uint64* generation);

// This client backend's published settings.
void claim_slot();
void publish(const Settings& settings);

// For unit_tests.clocks: one shared clock, or one session.
struct ClockRow {
  bool is_session;
  Oid database;  // InvalidOid with !is_session: the server clock
  int32 pid;
  Clock clock;
  Source source;
  TimestampTz changed_at;  // shared clocks
  Oid changed_by;          // shared clocks
};
// Calls fn(row, arg) for the server clock, every database clock and every client session whose
// clock (as its next statement will see it) is not real.
void list(void (*fn)(const ClockRow& row, void* arg), void* arg);

}  // namespace pgut::clock::shared
