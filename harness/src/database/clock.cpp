// The database and server clocks through the extension's SQL API: one connection, one call.
#include "pg_unit_tests/clock.hpp"

#include <fmt/format.h>

#include "pq/connection.hpp"

namespace pg_unit_tests::clock {
namespace {

using pq::Connection;
using pq::Rows;

// Runs one statement with text parameters (nullopt: NULL). The server's refusal is its primary
// message and its hint, the words a clock call's caller can act on.
Rows run(Connection& conn, const std::string& sql, const std::vector<pq::Param>& params = {}) {
  try {
    return conn.query(sql, params);
  } catch (const pq::ServerError& e) {
    const auto& d = e.diagnostics;
    std::string message = d.primary.substr(0, d.primary.find('\n'));
    if (!d.hint.empty()) message += fmt::format(" ({})", d.hint);
    throw Error(ExitCode::kDatabase, "clock: " + message);
  }
}

// What the server said when it refused a connection (libpq puts "connection to server ... failed:
// FATAL:  " before it).
std::string refusal(const std::string& line) {
  const auto fatal = line.find("FATAL:  ");
  return fatal == std::string::npos ? line : line.substr(fatal + 8);
}

// A session in the URI's database, with the extension, that writes timestamps in ISO form. Its
// TimeZone is the one the database's sessions get by default (the server's, or ALTER DATABASE/ROLE
// ... SET timezone; PGTZ overrides it): a timestamp without an offset, 'today' or an interval's
// days and months mean what they mean to the application. Every name is qualified: other roles may
// create functions and operators in that database.
Connection connect(const std::string& uri) {
  std::optional<Connection> opened;
  try {
    opened.emplace(uri);
  } catch (const pq::ConnectError& e) {
    // A server that answers but refuses (no such database, authentication) is not "no server".
    if (pq::server_answers(uri))
      throw Error(ExitCode::kDatabase,
                  fmt::format("clock: the server refused the connection: {}", refusal(e.reason)));
    throw Error(ExitCode::kNoSuchServer,
                fmt::format("clock: cannot connect to {}: {} (is the server running? see "
                            "pg_unit_tests list)",
                            uri, e.reason));
  }
  Connection conn = std::move(*opened);
  run(conn, "SET datestyle = 'ISO'");
  if (run(conn,
          "SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension "
          "WHERE extname OPERATOR(pg_catalog.=) 'pg_unit_tests'")[0][0] == "0")
    throw Error(ExitCode::kDatabase,
                fmt::format("clock: the extension pg_unit_tests is not installed in database "
                            "\"{}\": run CREATE EXTENSION pg_unit_tests there (pg_unit_tests start "
                            "--create pg_unit_tests does it)",
                            conn.database()));
  return conn;
}

// unit_tests.<function>([value,] scope, database), returning its result as text.
std::string call(const std::string& uri, const char* function, const char* value_type,
                 const std::string* value, const Target& target) {
  if (target.server && !target.database.empty())
    throw Error(ExitCode::kUsage, "clock: a database or the server, not both");
  Connection conn = connect(uri);
  std::vector<pq::Param> params;
  std::string sql = fmt::format("SELECT unit_tests.{}(", function);
  if (value != nullptr) {
    params.emplace_back(*value);
    sql += fmt::format("$1::{}, ", value_type);
  }
  params.emplace_back(target.server ? "server" : "database");
  if (target.server || target.database.empty()) {
    params.emplace_back(std::nullopt);
  } else {
    params.emplace_back(target.database);
  }
  sql +=
      fmt::format("scope => ${}, database => ${}::name)::text", params.size() - 1, params.size());
  std::string instant = run(conn, sql, params)[0][0];
  if (instant.empty()) return instant;
  // Printed in UTC whatever the zone was: the text carries its offset, so this is exact.
  run(conn, "SET TIME ZONE 'UTC'");
  return run(conn, "SELECT $1::pg_catalog.timestamptz::pg_catalog.text", {instant})[0][0];
}

}  // namespace

std::string freeze(const std::string& uri, const std::string& at, const Target& target) {
  return call(uri, "freeze", "timestamptz", &at, target);
}

std::string travel(const std::string& uri, const std::string& to, const Target& target) {
  return call(uri, "travel", "timestamptz", &to, target);
}

std::string advance(const std::string& uri, const std::string& by, const Target& target) {
  return call(uri, "advance", "interval", &by, target);
}

void release(const std::string& uri, const Target& target) {
  call(uri, "unfreeze", nullptr, nullptr, target);
}

std::vector<ClockRow> list(const std::string& uri) {
  Connection conn = connect(uri);
  run(conn, "SET TIME ZONE 'UTC'");
  Rows rows = run(conn,
                  "SELECT kind, coalesce(pid::text, ''), coalesce(database::text, ''), "
                  "coalesce(usename::text, ''), coalesce(application_name, ''), mode, "
                  "coalesce(frozen_at::text, ''), coalesce(time_offset::text, ''), "
                  "coalesce(source, '') FROM unit_tests.clocks "
                  "WHERE pid IS DISTINCT FROM pg_catalog.pg_backend_pid() ORDER BY "
                  "pg_catalog.array_position(ARRAY['server', 'database', 'session'], kind), "
                  "database, pid");
  std::vector<ClockRow> out;
  for (auto& r : rows)
    out.push_back(ClockRow{r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]});
  return out;
}

}  // namespace pg_unit_tests::clock
