// The clock of a whole database, or of the whole server, moved from a test runner in any language
// (the CLI's `pg_unit_tests clock ...` is a thin layer over these).
//
//   pg_unit_tests::clock::freeze(server.uri(), "2024-02-29 12:00:00+00");
//   // every session of the URI's database, existing and new (an application's connection pool),
//   // reads 2024-02-29 12:00:00+00 from its next statement on
//   pg_unit_tests::clock::advance(server.uri(), "1 day");
//   pg_unit_tests::clock::release(server.uri());
//
// They call unit_tests.freeze/travel/advance/unfreeze with scope => 'database' (or 'server') in
// the database the URI names, which needs the extension there (CREATE EXTENSION pg_unit_tests;
// `pg_unit_tests start --create pg_unit_tests`). A session's own clock (unit_tests.freeze() in that
// session) wins over the database's, which wins over the server's.
//
// Errors are pg_unit_tests::Error: kNoSuchServer when the URI does not connect, kDatabase when
// the server refuses (no extension, no privilege, a value it cannot read: its message is quoted).
#pragma once

#include <string>
#include <vector>

#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::clock {

// Whose clock: the database the URI names, another database of the same server, or the server's
// (every database; superusers only).
struct Target {
  std::string database;  // empty: the URI's own database
  bool server = false;
};

// Each returns the instant the target's clock shows now, as PostgreSQL prints a timestamptz in
// UTC ("2024-02-29 12:00:00+00"). Inputs without an offset ("today", "2024-03-01 09:00", an
// interval's days) are read in the TimeZone a session of the URI's database gets (PGTZ overrides
// it). A URI whose server answers but refuses the connection (no such database) is kDatabase.

// Stops the clock at `at` (any timestamptz input: "2024-02-29T12:00:00Z"; "now": where the clock
// is now).
std::string freeze(const std::string& uri, const std::string& at, const Target& target = {});
// Moves the clock to `to`; it keeps running from there.
std::string travel(const std::string& uri, const std::string& to, const Target& target = {});
// Moves a frozen or travelled clock by `by` (an interval: "1 day", "-2 hours", "P1M").
std::string advance(const std::string& uri, const std::string& by, const Target& target = {});
// Back to real time (for sessions whose own clock is not set).
void release(const std::string& uri, const Target& target = {});

// A row of unit_tests.clocks: the server and database clocks, and the sessions whose clock is
// mocked (but for the one list() itself uses). Empty strings for NULLs.
struct ClockRow {
  std::string kind;  // server, database, session
  std::string pid, database, user, application, mode, frozen_at, time_offset, source;
};
std::vector<ClockRow> list(const std::string& uri);

}  // namespace pg_unit_tests::clock
