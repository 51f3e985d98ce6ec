// The database and server clocks through the extension's SQL API: one connection, one call.
#include "pg_unit_tests/clock.hpp"

#include <libpq-fe.h>

#include <memory>

#include <fmt/format.h>

namespace pg_unit_tests::clock {
namespace {

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

std::string first_line(const char* text) {
  std::string line = text != nullptr ? text : "";
  line = line.substr(0, line.find('\n'));
  return line.rfind("ERROR:  ", 0) == 0 ? line.substr(8) : line;
}

using Rows = std::vector<std::vector<std::string>>;

// Runs one statement with text parameters (nullptr: NULL).
Rows run(PGconn* conn, const char* sql, const std::vector<const char*>& params = {}) {
  Result r(PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                        nullptr, 0),
           &PQclear);
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::string message = first_line(PQresultErrorMessage(r.get()));
    if (const char* hint = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_HINT))
      message += fmt::format(" ({})", hint);
    throw Error(ExitCode::kDatabase, "clock: " + message);
  }
  Rows rows(static_cast<size_t>(PQntuples(r.get())));
  for (int i = 0; i < PQntuples(r.get()); ++i)
    for (int j = 0; j < PQnfields(r.get()); ++j) rows[i].emplace_back(PQgetvalue(r.get(), i, j));
  return rows;
}

// What the server said when it refused a connection (libpq puts "connection to server ... failed:
// FATAL:  " before it).
std::string refusal(const char* text) {
  std::string line = first_line(text);
  const auto fatal = line.find("FATAL:  ");
  return fatal == std::string::npos ? line : line.substr(fatal + 8);
}

// A session in the URI's database, with the extension, that writes timestamps in ISO form. Its
// TimeZone is the one the database's sessions get by default (the server's, or ALTER DATABASE/ROLE
// ... SET timezone; PGTZ overrides it): a timestamp without an offset, 'today' or an interval's
// days and months mean what they mean to the application. Every name is qualified: other roles may
// create functions and operators in that database.
Connection connect(const std::string& uri) {
  Connection conn(PQconnectdb(uri.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    // A server that answers but refuses (no such database, authentication) is not "no server".
    if (PQping(uri.c_str()) == PQPING_OK)
      throw Error(ExitCode::kDatabase, fmt::format("clock: the server refused the connection: {}",
                                                   refusal(PQerrorMessage(conn.get()))));
    throw Error(ExitCode::kNoSuchServer,
                fmt::format("clock: cannot connect to {}: {} (is the server running? see "
                            "pg_unit_tests list)",
                            uri, first_line(PQerrorMessage(conn.get()))));
  }
  run(conn.get(), "SET datestyle = 'ISO'");
  if (run(conn.get(),
          "SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension "
          "WHERE extname OPERATOR(pg_catalog.=) 'pg_unit_tests'")[0][0] == "0")
    throw Error(ExitCode::kDatabase,
                fmt::format("clock: the extension pg_unit_tests is not installed in database "
                            "\"{}\": run CREATE EXTENSION pg_unit_tests there (pg_unit_tests start "
                            "--create pg_unit_tests does it)",
                            PQdb(conn.get())));
  return conn;
}

// unit_tests.<function>([value,] scope, database), returning its result as text.
std::string call(const std::string& uri, const char* function, const char* value_type,
                 const std::string* value, const Target& target) {
  if (target.server && !target.database.empty())
    throw Error(ExitCode::kUsage, "clock: a database or the server, not both");
  Connection conn = connect(uri);
  std::vector<const char*> params;
  std::string sql = fmt::format("SELECT unit_tests.{}(", function);
  if (value != nullptr) {
    params.push_back(value->c_str());
    sql += fmt::format("$1::{}, ", value_type);
  }
  params.push_back(target.server ? "server" : "database");
  params.push_back(target.server || target.database.empty() ? nullptr : target.database.c_str());
  sql +=
      fmt::format("scope => ${}, database => ${}::name)::text", params.size() - 1, params.size());
  std::string instant = run(conn.get(), sql.c_str(), params)[0][0];
  if (instant.empty()) return instant;
  // Printed in UTC whatever the zone was: the text carries its offset, so this is exact.
  run(conn.get(), "SET TIME ZONE 'UTC'");
  return run(conn.get(), "SELECT $1::pg_catalog.timestamptz::pg_catalog.text",
             {instant.c_str()})[0][0];
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
  run(conn.get(), "SET TIME ZONE 'UTC'");
  Rows rows = run(conn.get(),
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
