// CREATE DATABASE ... TEMPLATE, as both the library (database.cpp) and the keeper's database pool
// (harness/src/pool/) issue it: the strategy, the sessions in the way named, the names handed out.
#pragma once

#include <string>

#include "pg_unit_tests/database.hpp"
#include "pq/connection.hpp"

namespace pg_unit_tests::database {

// The databases createdb hands out (pgut_test_<pid>_<n>_<salt>): the only ones dropdb drops.
inline constexpr const char* kTestPrefix = "pgut_test_";
inline constexpr const char* kSnapshotPrefix = "pgut_snapshot_";

// A fresh name prefix<pid>_<n>_<salt>, unique on the machine for this process's life.
std::string unique_name(const std::string& prefix);
// True for the names unique_name(kTestPrefix) makes.
bool handed_out_by_createdb(const std::string& name);

// Throws Error(kDatabase) unless nobody but us is connected to `db`; names who is.
void require_no_sessions(pq::Connection& admin, const std::string& db, const std::string& why);

bool database_exists(pq::Connection& admin, const std::string& db);

// FILE_COPY or WAL_LOG for copying template_db (see CloneStrategy).
const char* strategy_sql(pq::Connection& admin, const std::string& template_db,
                         CloneStrategy strategy);

// The CREATE DATABASE target TEMPLATE source statement.
std::string clone_sql(pq::Connection& admin, const std::string& target, const std::string& source,
                      CloneStrategy strategy, const std::string& owner = {});

// Runs clone_sql; turns "being accessed by other users" (someone connected between a check and
// the copy) into the error that names them.
void clone(pq::Connection& admin, const std::string& target, const std::string& source,
           CloneStrategy strategy, const std::string& owner = {});

}  // namespace pg_unit_tests::database
