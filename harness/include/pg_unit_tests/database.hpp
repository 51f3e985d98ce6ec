// Whole databases for tests: snapshots of a database kept as template databases, and per-test
// databases cloned from a template in milliseconds (CREATE DATABASE ... TEMPLATE ... STRATEGY).
//
//   pg_unit_tests::Database db = pg_unit_tests::Database::create(server.uri(), "migrated");
//   PGconn* c = PQconnectdb(db.uri().c_str());   // a private copy of "migrated"
//   // ... the destructor drops it (WITH (FORCE): connections still open are closed).
//
// PostgreSQL copies a template only while nobody is connected to it; every function here checks
// that first and names the sessions in the way. Errors are pg_unit_tests::Error: kNoSuchServer
// when the URI does not connect, kDatabase for everything the server refuses (quoted), kUsage for
// a bad name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg_unit_tests/error.hpp"

typedef struct pg_conn PGconn;

namespace pg_unit_tests {

// How CREATE DATABASE copies: WAL_LOG (block by block through shared buffers, no checkpoint) or
// FILE_COPY (file by file, after a checkpoint). kAuto picks FILE_COPY on servers with fsync off
// (the harness's: measured faster at every size) and otherwise by the template's size.
enum class CloneStrategy { kAuto, kWalLog, kFileCopy };

// With fsync on, kAuto uses WAL_LOG below this template size and FILE_COPY above it (not
// measured: the harness's servers run with fsync off).
inline constexpr std::int64_t kFileCopyAbove = 256ll << 20;

// Parses "auto", "wal_log", "file_copy" (any case); throws Error(kUsage) otherwise.
CloneStrategy parse_clone_strategy(const std::string& text);

// The URI with its database replaced by dbname (a libpq URI, as Server::uri() returns).
std::string with_database(const std::string& uri, const std::string& dbname);

// The URI or keyword/value string with every password in it masked ("****"), for messages.
std::string hide_password(const std::string& uri);
// The message with every quotation of `uri` in it masked so.
std::string hide_password(const std::string& message, const std::string& uri);

struct DatabaseSnapshot {
  std::string name;      // as given to save()
  std::string database;  // the template database that holds it (pgut_snapshot_<name>)
  std::string source;    // the database it was taken from
  std::int64_t bytes = 0;
};

namespace snapshot {
// Copies the database the URI names into the snapshot `name`. Refuses when another session is
// connected to that database, or the snapshot exists.
void save(const std::string& uri, const std::string& name,
          CloneStrategy strategy = CloneStrategy::kAuto);
// Replaces the database the URI names with a copy of the snapshot: the copy is made first, then the
// two names are swapped in one transaction and the old database dropped, so a failure, or the
// caller killed at any moment, leaves the old database or the restored one, never none (copies a
// killed restore left are removed by the next restore or list). Refuses when another session is
// connected to it (the sessions are named).
void restore(const std::string& uri, const std::string& name,
             CloneStrategy strategy = CloneStrategy::kAuto);
std::vector<DatabaseSnapshot> list(const std::string& uri);
void drop(const std::string& uri, const std::string& name);
}  // namespace snapshot

// How Database::create gets its database.
struct DatabaseOptions {
  // A database or a snapshot to clone; "": the server's default, its postgres database as it was
  // at the first createdb (after --init and --create), copied once into a private template.
  std::string template_name;
  // kAuto: from the pool of the server's keeper, when the server is one of the harness's.
  // Anything else: cloned at the call with that strategy, without the pool.
  CloneStrategy strategy = CloneStrategy::kAuto;
  // The pool drops the database when this process ends: -1 (default) this process, 0 none (it
  // stays until dropped, or until the server stops).
  int owner_pid = -1;
  std::string label;   // shown in `list` (a test's name)
  int pool_size = -1;  // clones kept ready per template; -1: $PG_UNIT_TESTS_POOL_SIZE, else 4
};

// A fresh database cloned from a template (a database name, or the name of a snapshot saved with
// snapshot::save), owned by this object: the destructor drops it. On a server of the harness it
// comes from the server's pool of clones made ahead (see README, "Per-test databases"): templates
// nobody can connect to (the default, snapshots) are pooled; a database that can change is cloned
// at the request. Elsewhere it is cloned at the call.
class Database {
 public:
  static Database create(const std::string& server_uri, const DatabaseOptions& options = {});
  static Database create(const std::string& server_uri, const std::string& template_name,
                         CloneStrategy strategy = CloneStrategy::kAuto);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::string& name() const { return name_; }
  const std::string& uri() const { return uri_; }

  // True when it came from the server's pool (ready, or cloned by the pool at the request).
  bool from_pool() const { return !keeper_directory_.empty(); }

  // Drops the database (closing connections still open to it): at once, or, for a database of
  // the pool, in the background (the call returns before the drop is done).
  void drop();
  // Gives up this object's ownership; returns the name. The database stays until dropdb or the
  // server stops, unless its owner_pid (by default: this process) ends first.
  std::string release();

 private:
  Database() = default;
  PGconn* admin_ = nullptr;  // a connection to a maintenance database, kept for a fast drop
  std::string name_;
  std::string uri_;
  std::string keeper_directory_;  // the server's directory, for a database of its pool
};

// DROP DATABASE name WITH (FORCE) on the server of the URI, for a database that Database::create
// (`createdb`) handed out and released (by the pool: in the background); false if there was none.
// Any other name (postgres, a template, a database of your own) is refused with Error(kDatabase),
// and nothing is dropped.
bool drop_database(const std::string& server_uri, const std::string& name);
// The same for the database a URI names (as Database::uri() and `createdb` give it).
bool drop_database(const std::string& database_uri);

}  // namespace pg_unit_tests
