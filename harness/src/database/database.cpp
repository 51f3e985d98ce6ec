// Snapshots of whole databases and per-test databases: CREATE DATABASE ... TEMPLATE ... STRATEGY
// issued from a maintenance database of the same server.
#include "pg_unit_tests/database.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <random>
#include <regex>
#include <utility>

#include <fmt/format.h>

#include "pq/conninfo.hpp"
#include "pq/connection.hpp"

namespace pg_unit_tests {
namespace {

constexpr const char* kSnapshotPrefix = "pgut_snapshot_";
// The databases createdb hands out (pgut_test_<pid>_<n>_<salt>): the only ones dropdb drops.
constexpr const char* kTestPrefix = "pgut_test_";
// A restore's temporary databases, pgut_restore_<tag> and pgut_old_<tag>, belong to the session
// whose application_name is kRestoreSession<tag>: while it lives, they are in use; once it is
// gone (the restore was killed), they are left-overs that the next restore or list removes.
constexpr const char* kRestoreSession = "pg_unit_tests restore ";

using Conn = pq::Connection;

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

// Throws unless nobody but us is connected to `db`; names who is.
void require_no_sessions(Conn& admin, const std::string& db, const std::string& why) {
  auto rows = admin.query(
      "SELECT pid, coalesce(usename, '?'), coalesce(nullif(application_name, ''), '?'), "
      "coalesce(client_addr::text, 'local socket') FROM pg_stat_activity "
      "WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid",
      {db});
  if (rows.empty()) return;
  std::string who;
  for (const auto& r : rows) {
    if (!who.empty()) who += ", ";
    who += fmt::format("pid {} (user {}, application {}, {})", r[0], r[1], r[2], r[3]);
  }
  throw Error(ExitCode::kDatabase,
              fmt::format("{}: {} other session{} connected to database \"{}\": {}; close {} "
                          "first (PostgreSQL copies and drops only databases nobody uses)",
                          why, rows.size(), rows.size() == 1 ? " is" : "s are", db, who,
                          rows.size() == 1 ? "it" : "them"));
}

bool database_exists(Conn& admin, const std::string& db) {
  return admin.value("SELECT count(*) FROM pg_database WHERE datname = $1", {db}) == "1";
}

const char* strategy_sql(Conn& admin, const std::string& template_db, CloneStrategy strategy) {
  if (strategy == CloneStrategy::kAuto) {
    // Measured (bench_snapshot, README): with fsync off, as on the harness's servers, FILE_COPY's
    // checkpoint is cheap and it wins at every size (15 vs 20-28 ms at 8 MB, 59 vs 137 ms at 51
    // MB). With fsync on its two checkpoints flush the whole cluster: WAL_LOG (PostgreSQL's
    // default) for small templates, FILE_COPY above kFileCopyAbove.
    const auto row = admin.query(
        "SELECT current_setting('fsync') = 'off', pg_database_size($1::name)", {template_db});
    const bool no_fsync = row.at(0).at(0) == "t";
    const std::int64_t size = std::stoll(row.at(0).at(1));
    strategy =
        no_fsync || size > kFileCopyAbove ? CloneStrategy::kFileCopy : CloneStrategy::kWalLog;
  }
  return strategy == CloneStrategy::kFileCopy ? "FILE_COPY" : "WAL_LOG";
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

// CREATE DATABASE target TEMPLATE source; turns "being accessed by other users" (someone connected
// between our check and the copy) into the same error as the check.
void clone(Conn& admin, const std::string& target, const std::string& source,
           CloneStrategy strategy, const std::string& owner = {}) {
  const std::string sql =
      fmt::format("CREATE DATABASE {} TEMPLATE {} STRATEGY {}{}", admin.quote_identifier(target),
                  admin.quote_identifier(source), strategy_sql(admin, source, strategy),
                  owner.empty() ? "" : " OWNER " + admin.quote_identifier(owner));
  try {
    admin.query(sql);
  } catch (const pq::ServerError& e) {
    if (e.sqlstate == "55006") require_no_sessions(admin, source, "cannot copy");
    throw;
  }
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  return fmt::format("{}{}_{}_{:x}", prefix, getpid(), counter.fetch_add(1), salt & 0xffffu);
}

bool handed_out_by_createdb(const std::string& name) {
  static const std::regex pattern("^pgut_test_[0-9]+_[0-9]+_[0-9a-f]+$");
  return std::regex_match(name, pattern);
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
  Conn admin(server_uri, template_name == "postgres" ? "template1" : "postgres");
  std::string source = template_name;
  if (!database_exists(admin, source)) {
    if (database_exists(admin, kSnapshotPrefix + template_name)) {
      source = kSnapshotPrefix + template_name;
    } else {
      throw Error(ExitCode::kDatabase,
                  fmt::format("no database or snapshot '{}' to use as a template", template_name));
    }
  }
  Database db;
  db.name_ = unique_name(kTestPrefix);
  require_no_sessions(admin, source, "cannot use it as a template");
  clone(admin, db.name_, source, strategy);
  db.uri_ = with_database(server_uri, db.name_);
  db.admin_ = admin.release();
  return db;
}

Database::Database(Database&& other) noexcept
    : admin_(std::exchange(other.admin_, nullptr)),
      name_(std::move(other.name_)),
      uri_(std::move(other.uri_)) {
  other.name_.clear();
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
    other.name_.clear();
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
