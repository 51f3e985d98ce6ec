// Snapshots of whole databases and per-test databases: CREATE DATABASE ... TEMPLATE ... STRATEGY
// issued from a maintenance database of the same server.
#include "pg_unit_tests/database.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <memory>
#include <random>
#include <regex>
#include <utility>

#include <fmt/format.h>

#include "cluster/keeper_client.hpp"
#include "cluster/layout.hpp"
#include "cluster/run_dir.hpp"
#include "database/clone.hpp"
#include "pq/conninfo.hpp"
#include "pq/connection.hpp"

namespace pg_unit_tests {
namespace {

// A restore's temporary databases, pgut_restore_<tag> and pgut_old_<tag>, belong to the session
// whose application_name is kRestoreSession<tag>: while it lives, they are in use; once it is
// gone (the restore was killed), they are left-overs that the next restore or list removes.
constexpr const char* kRestoreSession = "pg_unit_tests restore ";

using Conn = pq::Connection;
using database::clone;
using database::database_exists;
using database::handed_out_by_createdb;
using database::kSnapshotPrefix;
using database::kTestPrefix;
using database::require_no_sessions;
using database::unique_name;

// The database the URI names (asked of the server: the URI may leave it implicit).
std::string database_of(const std::string& uri) {
  Conn c(uri, "");
  return c.value("SELECT current_database()");
}

// A maintenance connection: to "postgres", or to template1 when the database we work on is
// postgres itself (nobody may be connected to a database being copied or replaced).
Conn admin_for(const std::string& uri, const std::string& busy,
               const std::string& application_name = {}) {
  return Conn(uri, busy == "postgres" ? "template1" : "postgres", ExitCode::kNoSuchServer,
              application_name);
}

void require_snapshot_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 40 &&
                  std::all_of(name.begin(), name.end(), [](unsigned char ch) {
                    return std::isalnum(ch) || ch == '_' || ch == '-';
                  });
  if (!ok) {
    throw Error(ExitCode::kUsage,
                fmt::format("snapshot name '{}' is not valid: use 1 to 40 letters, digits, '_' "
                            "or '-'",
                            name));
  }
}

struct KeeperOf {
  cluster::KeeperConnection connection;
  std::string directory;
};

// The keeper of the server behind a URI, when the harness runs it.
std::optional<KeeperOf> keeper_of(const std::string& uri) {
  try {
    const cluster::Layout layout = cluster::Layout::locate();
    if (!layout.exists()) return std::nullopt;
    const auto directory = cluster::locate_server(uri, layout);
    if (auto k = cluster::KeeperConnection::connect(directory, layout.user.uid)) {
      return KeeperOf{std::move(*k), directory.string()};
    }
  } catch (const Error&) {
    // Not ours: clone without the pool.
  }
  return std::nullopt;
}

int default_pool_size() {
  const char* env = std::getenv("PG_UNIT_TESTS_POOL_SIZE");
  return env && *env ? std::clamp(std::atoi(env), 0, 64) : 4;
}

// Drops what restores that were killed left (their session is gone); see kRestoreSession.
void drop_leftovers(Conn& admin) {
  const auto rows = admin.query(
      "SELECT d.datname FROM pg_database AS d "
      "WHERE d.datname ~ '^pgut_(restore|old)_' AND NOT EXISTS ("
      "  SELECT FROM pg_stat_activity AS a "
      "  WHERE a.application_name = $1 || substring(d.datname FROM '^pgut_(?:restore|old)_(.*)$'))",
      {kRestoreSession});
  for (const auto& r : rows) {
    try {
      admin.query(
          fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", admin.quote_identifier(r[0])));
    } catch (const pq::ServerError&) {
      // Another restore removes it meanwhile, or it is in use after all: the next one will.
    }
  }
}

}  // namespace

CloneStrategy parse_clone_strategy(const std::string& text) {
  std::string t;
  for (unsigned char ch : text) t += static_cast<char>(std::tolower(ch));
  if (t == "auto") return CloneStrategy::kAuto;
  if (t == "wal_log") return CloneStrategy::kWalLog;
  if (t == "file_copy") return CloneStrategy::kFileCopy;
  throw Error(ExitCode::kUsage,
              fmt::format("strategy '{}' is not one of auto, wal_log, file_copy", text));
}

std::string with_database(const std::string& uri, const std::string& dbname) {
  pq::Options options = pq::parse_conninfo(uri);
  options["dbname"] = dbname;
  return pq::make_uri(options);
}

namespace snapshot {

void save(const std::string& uri, const std::string& name, CloneStrategy strategy) {
  require_snapshot_name(name);
  const std::string source = database_of(uri);
  Conn admin = admin_for(uri, source);
  const std::string target = kSnapshotPrefix + name;
  if (database_exists(admin, target)) {
    throw Error(ExitCode::kDatabase,
                fmt::format("snapshot '{}' already exists; drop it first with: pg_unit_tests "
                            "snapshot drop {}",
                            name, name));
  }
  require_no_sessions(admin, source, fmt::format("cannot save snapshot '{}'", name));
  clone(admin, target, source, strategy);
  // A template that nobody can connect to: it cannot change by accident.
  admin.query(fmt::format("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
                          admin.quote_identifier(target)));
  // list() reads the source back from this comment (after its 26-character prefix).
  admin.query(fmt::format("COMMENT ON DATABASE {} IS {}", admin.quote_identifier(target),
                          admin.quote_literal("pg_unit_tests snapshot of " + source)));
}

void restore(const std::string& uri, const std::string& name, CloneStrategy strategy) {
  require_snapshot_name(name);
  const std::string target = database_of(uri);
  const std::string tag = unique_name("");
  Conn admin = admin_for(uri, target, kRestoreSession + tag);
  drop_leftovers(admin);
  const std::string snapshot_db = kSnapshotPrefix + name;
  if (!database_exists(admin, snapshot_db)) {
    throw Error(ExitCode::kDatabase,
                fmt::format("no snapshot '{}' on this server (pg_unit_tests snapshot list shows "
                            "them)",
                            name));
  }
  const std::string why = fmt::format("cannot restore snapshot '{}'", name);
  require_no_sessions(admin, target, why);
  const std::string owner =
      admin.value("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", {target});
  // Copy first, then swap both names in one transaction: whenever this is killed, the database
  // is there, the old one or the restored one; the copies it leaves are its session's, which
  // the next restore (or list) removes.
  const std::string fresh = "pgut_restore_" + tag, old = "pgut_old_" + tag;
  clone(admin, fresh, snapshot_db, strategy, owner);
  try {
    admin.query("BEGIN");
    admin.query(fmt::format("ALTER DATABASE {} RENAME TO {}", admin.quote_identifier(target),
                            admin.quote_identifier(old)));
    admin.query(fmt::format("ALTER DATABASE {} RENAME TO {}", admin.quote_identifier(fresh),
                            admin.quote_identifier(target)));
    admin.query("COMMIT");
  } catch (const pq::ServerError& e) {
    admin.query("ROLLBACK");
    admin.query(fmt::format("DROP DATABASE IF EXISTS {}", admin.quote_identifier(fresh)));
    if (e.sqlstate == "55006") require_no_sessions(admin, target, why);
    throw;
  }
  admin.query(fmt::format("DROP DATABASE {} WITH (FORCE)", admin.quote_identifier(old)));
}

std::vector<DatabaseSnapshot> list(const std::string& uri) {
  Conn c(uri, "");
  drop_leftovers(c);
  auto rows = c.query(
      "SELECT substr(d.datname, length($1) + 1), d.datname, "
      "coalesce(substr(shobj_description(d.oid, 'pg_database'), 27), ''), "
      "pg_database_size(d.oid) FROM pg_database AS d "
      "WHERE starts_with(d.datname, $1) ORDER BY d.datname",
      {kSnapshotPrefix});
  std::vector<DatabaseSnapshot> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    out.push_back(DatabaseSnapshot{r[0], r[1], r[2], std::stoll(r[3])});
  }
  return out;
}

void drop(const std::string& uri, const std::string& name) {
  require_snapshot_name(name);
  const std::string source = database_of(uri);
  Conn admin = admin_for(uri, source);
  const std::string db = kSnapshotPrefix + name;
  if (!database_exists(admin, db)) {
    throw Error(ExitCode::kDatabase, fmt::format("no snapshot '{}' on this server", name));
  }
  admin.query(fmt::format("ALTER DATABASE {} WITH IS_TEMPLATE false", admin.quote_identifier(db)));
  admin.query(fmt::format("DROP DATABASE {} WITH (FORCE)", admin.quote_identifier(db)));
}

}  // namespace snapshot

Database Database::create(const std::string& server_uri, const std::string& template_name,
                          CloneStrategy strategy) {
  if (template_name.empty()) throw Error(ExitCode::kUsage, "createdb needs a template name");
  DatabaseOptions options;
  options.template_name = template_name;
  options.strategy = strategy;
  return create(server_uri, options);
}

Database Database::create(const std::string& server_uri, const DatabaseOptions& options) {
  if (options.strategy == CloneStrategy::kAuto) {
    if (auto keeper = keeper_of(server_uri)) {
      cluster::Request r{"createdb"};
      r.template_db = options.template_name;
      r.label = options.label;
      r.owner_pid = options.owner_pid < 0 ? getpid() : options.owner_pid;
      r.pool_size = options.pool_size >= 0 ? options.pool_size : default_pool_size();
      const cluster::Reply reply = keeper->connection.request(r);
      reply.check();
      if (!reply.database) throw Error(ExitCode::kSystem, "the database pool named no database");
      Database db;
      db.name_ = reply.database->name;
      db.uri_ = with_database(server_uri, db.name_);
      db.keeper_directory_ = keeper->directory;
      return db;
    }
  }
  // Not a server of the harness (or a strategy asked for): clone here and now.
  std::string source =
      options.template_name.empty() ? database_of(server_uri) : options.template_name;
  Conn admin(server_uri, source == "postgres" ? "template1" : "postgres");
  if (!database_exists(admin, source)) {
    if (database_exists(admin, kSnapshotPrefix + source)) {
      source = kSnapshotPrefix + source;
    } else {
      throw Error(ExitCode::kDatabase,
                  fmt::format("no database or snapshot '{}' to use as a template", source));
    }
  }
  Database db;
  db.name_ = unique_name(kTestPrefix);
  require_no_sessions(admin, source, "cannot use it as a template");
  clone(admin, db.name_, source, options.strategy);
  db.uri_ = with_database(server_uri, db.name_);
  db.admin_ = admin.release();
  return db;
}

Database::Database(Database&& other) noexcept
    : admin_(std::exchange(other.admin_, nullptr)),
      name_(std::move(other.name_)),
      uri_(std::move(other.uri_)),
      keeper_directory_(std::move(other.keeper_directory_)) {
  other.name_.clear();
  other.keeper_directory_.clear();
}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    try {
      drop();
    } catch (...) {
    }
    admin_ = std::exchange(other.admin_, nullptr);
    name_ = std::move(other.name_);
    uri_ = std::move(other.uri_);
    keeper_directory_ = std::move(other.keeper_directory_);
    other.name_.clear();
    other.keeper_directory_.clear();
  }
  return *this;
}

Database::~Database() {
  try {
    drop();
  } catch (...) {
    // A destructor must not throw; the database goes with the server anyway.
  }
}

void Database::drop() {
  if (!keeper_directory_.empty()) {
    const std::string directory = std::exchange(keeper_directory_, {});
    const std::string name = std::exchange(name_, {});
    const cluster::Layout layout = cluster::Layout::locate();
    // No keeper any more: the server, and the database with it, are gone.
    if (auto keeper = cluster::KeeperConnection::connect(directory, layout.user.uid)) {
      cluster::Request r{"dropdb"};
      r.database = name;
      keeper->request(r).check();
    }
    return;
  }
  if (!admin_) return;
  Conn admin(std::exchange(admin_, nullptr));
  if (!name_.empty()) {
    admin.query(
        fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", admin.quote_identifier(name_)));
    name_.clear();
  }
}

std::string Database::release() {
  pq::Connection closed(std::exchange(admin_, nullptr));
  keeper_directory_.clear();
  return std::exchange(name_, {});
}

bool drop_database(const std::string& server_uri, const std::string& name) {
  if (name.empty()) throw Error(ExitCode::kUsage, "dropdb needs a database name");
  if (!handed_out_by_createdb(name)) {
    throw Error(ExitCode::kDatabase,
                fmt::format("dropdb drops only databases that createdb handed out ({}…), and '{}' "
                            "is not one: drop it yourself (DROP DATABASE) if you mean to",
                            kTestPrefix, name));
  }
  if (auto keeper = keeper_of(server_uri)) {
    cluster::Request r{"dropdb"};
    r.database = name;
    const cluster::Reply reply = keeper->connection.request(r);
    if (reply.ok) return true;
    // kNoSuchServer: not one the pool handed out (createdb made it without the pool).
    if (reply.code != static_cast<int>(ExitCode::kNoSuchServer)) reply.check();
  }
  Conn admin(server_uri, "postgres");
  if (!database_exists(admin, name)) return false;
  admin.query(fmt::format("DROP DATABASE {} WITH (FORCE)", admin.quote_identifier(name)));
  return true;
}

bool drop_database(const std::string& database_uri) {
  const pq::Options o = pq::parse_conninfo(database_uri);
  const auto db = o.find("dbname");
  if (db == o.end()) {
    throw Error(ExitCode::kUsage,
                fmt::format("'{}' names no database: give the URI createdb printed", database_uri));
  }
  return drop_database(database_uri, db->second);
}

}  // namespace pg_unit_tests
