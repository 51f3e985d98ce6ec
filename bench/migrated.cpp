// What a migrated template (--init) costs a start, against a plain warm start measured in the same
// run, and against applying the same migration to every fresh server (what tests do without it).
//
//   build/bin/bench_migrated [--runs N] [--tables T] [--rows R]
//
// The migration: T tables, each with a primary key, an index and R rows. Every figure is a median
// over N runs through the C++ API (Server::start, a query, stop), plain and migrated runs
// interleaved so that the machine's load affects both alike.
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench_support.hpp"
#include "pg_unit_tests/cache.hpp"
#include "pg_unit_tests/server.hpp"

namespace fs = std::filesystem;
using bench::Clock;
using bench::median;
using bench::ms_since;
using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;

namespace {

// Runs sql (any number of statements) and returns the first value of the last result.
std::string exec(const Server& s, const std::string& sql) {
  PGconn* c = PQconnectdb(s.uri().c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("connect: " + e);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string value = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  const std::string error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("query failed: " + error);
  return value;
}

std::string migration_sql(int tables, int rows) {
  std::string sql;
  for (int t = 0; t < tables; ++t) {
    sql += fmt::format(
        "CREATE TABLE t{0} (id int PRIMARY KEY, name text NOT NULL, at timestamptz);\n"
        "CREATE INDEX ON t{0} (name);\n"
        "INSERT INTO t{0} SELECT i, 'name ' || i, now() FROM generate_series(1, {1}) i;\n",
        t, rows);
  }
  return sql;
}

int run_bench(int argc, char** argv) {
  CLI::App app{"bench_migrated: a start from a migrated template against a plain warm start"};
  int runs = 15, tables = 40, rows = 500;
  app.add_option("--runs", runs, "runs per figure (median)");
  app.add_option("--tables", tables, "tables the migration creates");
  app.add_option("--rows", rows, "rows per table");
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/tmp/pgut-bench-migrated-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  const fs::path file = dir / "001_schema.sql";
  const std::string sql = migration_sql(tables, rows);
  std::ofstream(file) << sql;

  ServerOptions plain;
  ServerOptions migrated;
  migrated.init = {dir};
  pg_unit_tests::cache::warm(plain);
  pg_unit_tests::cache::warm(migrated);  // builds the migrated template once
  const std::string check = fmt::format("SELECT count(*) FROM t{}", tables - 1);

  std::vector<double> plain_ms, migrated_ms, each_time_ms, build_ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    {
      Server s = Server::start(plain);
      exec(s, "SELECT 1");
    }
    plain_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    {
      Server s = Server::start(migrated);
      if (exec(s, check) != std::to_string(rows)) throw std::runtime_error("no migrated data");
    }
    migrated_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    {
      Server s = Server::start(plain);
      exec(s, sql);
      exec(s, check);
    }
    each_time_ms.push_back(ms_since(t0));
  }
  // A changed migration: the first start builds its template (a few runs, each a new content).
  for (int i = 0; i < std::max(3, runs / 5); ++i) {
    std::ofstream(dir / "002_change.sql") << fmt::format("SELECT {};\n", i);
    const auto t0 = Clock::now();
    {
      Server s = Server::start(migrated);
      exec(s, check);
    }
    build_ms.push_back(ms_since(t0));
  }
  fs::remove_all(dir);

  const double base = median(plain_ms);
  fmt::print(
      "migration: {} tables with an index and {} rows each; median of {} runs, C++ API, each "
      "a start, one query, stop (files removed)\n\n",
      tables, rows, runs);
  fmt::print("{:<62} {:>9} {:>10}\n", "", "ms", "vs plain");
  const auto row = [&](const char* what, double ms) {
    fmt::print("{:<62} {:>9.1f} {:>9.2f}x\n", what, ms, ms / base);
  };
  row("plain warm start (baseline)", base);
  row("warm start from the migrated template", median(migrated_ms));
  row("plain warm start + the migration applied each time", median(each_time_ms));
  row("first start after a change (builds the migrated template)", median(build_ms));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_migrated: %s\n", e.what());
    return 1;
  }
}
