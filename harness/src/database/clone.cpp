#include "database/clone.hpp"

#include <unistd.h>

#include <atomic>
#include <random>
#include <regex>

#include <fmt/format.h>

namespace pg_unit_tests::database {

std::string unique_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  return fmt::format("{}{}_{}_{:x}", prefix, getpid(), counter.fetch_add(1), salt & 0xffffu);
}

bool handed_out_by_createdb(const std::string& name) {
  static const std::regex pattern("^pgut_test_[0-9]+_[0-9]+_[0-9a-f]+$");
  return std::regex_match(name, pattern);
}

void require_no_sessions(pq::Connection& admin, const std::string& db, const std::string& why) {
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

bool database_exists(pq::Connection& admin, const std::string& db) {
  return admin.value("SELECT count(*) FROM pg_database WHERE datname = $1", {db}) == "1";
}

const char* strategy_sql(pq::Connection& admin, const std::string& template_db,
                         CloneStrategy strategy) {
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

std::string clone_sql(pq::Connection& admin, const std::string& target, const std::string& source,
                      CloneStrategy strategy, const std::string& owner) {
  return fmt::format("CREATE DATABASE {} TEMPLATE {} STRATEGY {}{}", admin.quote_identifier(target),
                     admin.quote_identifier(source), strategy_sql(admin, source, strategy),
                     owner.empty() ? "" : " OWNER " + admin.quote_identifier(owner));
}

void clone(pq::Connection& admin, const std::string& target, const std::string& source,
           CloneStrategy strategy, const std::string& owner) {
  const std::string sql = clone_sql(admin, target, source, strategy, owner);
  try {
    admin.query(sql);
  } catch (const pq::ServerError& e) {
    if (e.sqlstate == "55006") require_no_sessions(admin, source, "cannot copy");
    throw;
  }
}

}  // namespace pg_unit_tests::database
