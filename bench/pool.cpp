// bench_pool: per-test databases from a server's pool against CREATE DATABASE ... TEMPLATE with
// either strategy, and the other isolation recipes on the same migrated schema, in one run on one
// server started by the harness. Printed: medians over --rounds and ratios against the handout of
// a database from the warm pool (Database::create). Also: how many clones per second the pool
// sustains (every worker busy), and the disk one clone costs.
#include <libpq-fe.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench_support.hpp"
#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/server.hpp"

namespace {

using bench::Clock;
using bench::Conn;
using bench::median;
using bench::ms_since;

// The CLI next to this program; its output's first line.
std::string cli(const std::string& args) {
  static const std::string path =
      (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "pg_unit_tests").string();
  FILE* p = popen((path + " " + args).c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  char buf[4096] = {};
  std::string out = fgets(buf, sizeof buf, p) ? buf : "";
  if (pclose(p) != 0) throw std::runtime_error("pg_unit_tests " + args + " failed");
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

constexpr int kTables = 20;
constexpr int kRowsPerTable = 500;
constexpr int kPoolSize = 4;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench_pool: per-test databases from the pool against CREATE DATABASE");
  int rounds = 30;
  int burst = 40;
  app.add_option("--rounds", rounds, "measurements per figure (median)");
  app.add_option("--burst", burst, "databases asked for at once to measure the pool's rate");
  CLI11_PARSE(app, argc, argv);

  try {
    pg_unit_tests::Server server = pg_unit_tests::Server::start();
    const std::string uri = server.uri();
    {
      // The "migrated" schema: what --init or a migration tool would leave in the database.
      Conn c(uri);
      c.exec("CREATE EXTENSION pg_unit_tests");
      for (int i = 0; i < kTables; ++i) {
        c.exec(
            fmt::format("CREATE TABLE t{0:02} (id int PRIMARY KEY, ref int, note text, at "
                        "timestamptz DEFAULT now()); CREATE INDEX ON t{0:02} (ref); "
                        "INSERT INTO t{0:02} (id, ref, note) SELECT g, g % 50, md5(g::text) "
                        "FROM generate_series(1, {1}) g",
                        i, kRowsPerTable));
      }
      c.exec("VACUUM ANALYZE");
    }
    pg_unit_tests::DatabaseOptions options;
    options.pool_size = kPoolSize;
    // The first createdb makes the private template (pgut_template: a copy of postgres, which
    // nobody may be connected to at that moment) and starts the pool.
    pg_unit_tests::Database::create(uri, options).drop();
    Conn admin(uri);
    auto clones = [&] {
      return std::stoi(
          admin.exec("SELECT count(*) FROM pg_database WHERE datname LIKE 'pgut\\_test\\_%'"));
    };
    auto wait_for_clones = [&](int n) {
      const auto limit = Clock::now() + std::chrono::seconds(60);
      while (clones() != n) {
        if (Clock::now() > limit) throw std::runtime_error("the pool did not refill in 60 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    };
    wait_for_clones(kPoolSize);

    // Handout with the pool warm: each round takes one and lets the pool refill before the next.
    std::vector<double> handout, handout_cli, drop_async, wal_log, file_copy, drop_sync;
    for (int i = 0; i < rounds; ++i) {
      auto t0 = Clock::now();
      pg_unit_tests::Database db = pg_unit_tests::Database::create(uri, options);
      handout.push_back(ms_since(t0));
      t0 = Clock::now();
      db.drop();
      drop_async.push_back(ms_since(t0));
      wait_for_clones(kPoolSize);
    }
    for (int i = 0; i < rounds; ++i) {
      auto t0 = Clock::now();
      const std::string db = cli("createdb --uri " + quoted(uri));
      handout_cli.push_back(ms_since(t0));
      cli("dropdb " + quoted(db));
      wait_for_clones(kPoolSize);
    }
    // The baselines: the same template cloned at the call, each strategy, then dropped.
    for (int i = 0; i < rounds; ++i) {
      for (auto [strategy, out] :
           {std::pair{"WAL_LOG", &wal_log}, std::pair{"FILE_COPY", &file_copy}}) {
        auto t0 = Clock::now();
        admin.exec(fmt::format("CREATE DATABASE bench_clone TEMPLATE pgut_template STRATEGY {}",
                               strategy));
        out->push_back(ms_since(t0));
        t0 = Clock::now();
        admin.exec("DROP DATABASE bench_clone WITH (FORCE)");
        drop_sync.push_back(ms_since(t0));
      }
    }
    // Disk: one clone is a whole database.
    const double clone_mib =
        std::stod(admin.exec("SELECT pg_database_size(datname) FROM pg_database WHERE datname "
                             "LIKE 'pgut\\_test\\_%' LIMIT 1")) /
        (1 << 20);

    // The other recipes on the same schema, in one session of a clone (as a test would).
    std::vector<double> rolled_back, plain_rollback, restore, server_cycle;
    {
      pg_unit_tests::Database db = pg_unit_tests::Database::create(uri, options);
      wait_for_clones(kPoolSize + 1);  // no refill running meanwhile
      Conn c(db.uri());
      const std::string change = "UPDATE t00 SET note = 'x' WHERE id <= 50";
      for (int i = 0; i < rounds; ++i) {
        auto t0 = Clock::now();
        c.exec("SELECT ok FROM unit_tests.rolled_back($$" + change + "$$)");
        rolled_back.push_back(ms_since(t0));
        t0 = Clock::now();
        c.exec("BEGIN");
        c.exec(change);
        c.exec("ROLLBACK");
        plain_rollback.push_back(ms_since(t0));
      }
      c.exec("SELECT unit_tests.snapshot('bench')");
      for (int i = 0; i < rounds; ++i) {
        c.exec(change);
        auto t0 = Clock::now();
        c.exec("SELECT unit_tests.restore('bench')");
        restore.push_back(ms_since(t0));
      }
    }
    for (int i = 0; i < std::max(5, rounds / 3); ++i) {
      auto t0 = Clock::now();
      pg_unit_tests::Server s = pg_unit_tests::Server::start();
      Conn(s.uri()).exec("SELECT 1");
      s.stop();
      server_cycle.push_back(ms_since(t0));
    }

    // The first createdb of a server (the pool's process, its maintenance database and the
    // default template are made then, and the clone at the request), against the baseline's
    // single copy of postgres on a server equally fresh; alternated, a fresh server each.
    std::vector<double> first_handout, first_baseline;
    for (int i = 0; i < std::max(5, rounds / 3); ++i) {
      for (const bool pooled : {true, false}) {
        pg_unit_tests::Server s = pg_unit_tests::Server::start();
        Conn(s.uri()).exec("SELECT 1");  // started, as a test's session would find it
        const auto t0 = Clock::now();
        if (pooled) {
          pg_unit_tests::Database::create(s.uri(), options).release();
          first_handout.push_back(ms_since(t0));
        } else {
          Conn(s.uri() + (s.uri().find('?') == std::string::npos ? "?" : "&") + "dbname=template1")
              .exec("CREATE DATABASE bench_first TEMPLATE postgres");
          first_baseline.push_back(ms_since(t0));
        }
      }
    }

    // The rate the pool sustains: `burst` databases asked for by 8 clients at once, so that
    // every clone worker is busy; the pool's first kPoolSize come ready.
    wait_for_clones(kPoolSize);
    const int clients = 8;
    std::vector<std::thread> threads;
    std::vector<pg_unit_tests::Database> taken;
    std::mutex m;
    const auto t0 = Clock::now();
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < burst; i += clients) {
          pg_unit_tests::Database db = pg_unit_tests::Database::create(uri, options);
          const std::lock_guard lock(m);
          taken.push_back(std::move(db));
        }
      });
    }
    for (auto& t : threads) t.join();
    const double burst_s = ms_since(t0) / 1000;
    for (auto& d : taken) d.release();  // they go with the server

    const double base = median(handout);
    auto row = [&](const char* what, double ms) {
      std::printf("| %s | %.2f | %.2f |\n", what, ms, ms / base);
    };
    std::printf("bench_pool: %d rounds, pool of %d, %d tables x %d rows, template %.1f MiB\n\n",
                rounds, kPoolSize, kTables, kRowsPerTable, clone_mib);
    std::printf("| a fresh database for a test | median ms | vs pool handout |\n|---|---|---|\n");
    row("`Database::create` from the warm pool (C++)", base);
    row("`pg_unit_tests createdb` from the warm pool (CLI process included)", median(handout_cli));
    row("`CREATE DATABASE ... TEMPLATE ... STRATEGY WAL_LOG`", median(wal_log));
    row("`CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY`", median(file_copy));
    row("the first `Database::create` of a fresh server (pool not started yet)",
        median(first_handout));
    row("(`CREATE DATABASE ... TEMPLATE postgres` on a fresh server, for reference)",
        median(first_baseline));
    row("dropping it: `Database::drop` of the pool (returns before the drop)", median(drop_async));
    row("dropping it: `DROP DATABASE ... WITH (FORCE)`", median(drop_sync));
    std::printf(
        "\n| isolating one test (same schema) | median ms | vs pool handout |\n|---|---|---|\n");
    row("rolled-back block: `unit_tests.rolled_back(...)` of a 50-row UPDATE", median(rolled_back));
    row("(the same UPDATE in BEGIN ... ROLLBACK, for reference)", median(plain_rollback));
    row("data snapshot: `unit_tests.restore()` after that UPDATE", median(restore));
    row("per-test database from the pool", base);
    row("a server per test: `Server::start` + `SELECT 1` + `stop`", median(server_cycle));
    std::printf(
        "\npool rate: %d databases for %d concurrent clients in %.2f s = %.1f clones/s "
        "(%u cores); disk per clone: %.1f MiB\n",
        burst, clients, burst_s, burst / burst_s, std::thread::hardware_concurrency(), clone_mib);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pool: %s\n", e.what());
    return 1;
  }
  return 0;
}
