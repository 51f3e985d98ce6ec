// Example: a C++ project's GoogleTest suite against a real PostgreSQL, with a frozen clock.
//
// One ephemeral server for the whole test program (ServerEnvironment), every session frozen at a
// known instant (--freeze), so that code which stamps rows with now() can be tested exactly.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>

#include "pg_unit_tests/gtest.hpp"

namespace {

using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Conn connect() {
  return Conn(PQconnectdb(pg_unit_tests::ServerEnvironment::uri().c_str()), &PQfinish);
}

std::string value(PGconn* c, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql.c_str()), &PQclear);
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
    return "ERROR: " + std::string(PQresultErrorMessage(r.get()));
  return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

// The code under test: orders stamped by the database, overdue 30 days after they were created.
void create_schema(PGconn* c) {
  value(c,
        "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, "
        "created timestamptz NOT NULL DEFAULT now());"
        "CREATE OR REPLACE VIEW overdue_orders AS "
        "SELECT * FROM orders WHERE created + interval '30 days' < now()");
}

}  // namespace

TEST(Orders, CreatedAtTheFrozenInstant) {
  Conn c = connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  create_schema(c.get());
  EXPECT_EQ(value(c.get(), "INSERT INTO orders DEFAULT VALUES RETURNING created::text"),
            "2030-01-01 00:00:00+00");
}

TEST(Orders, OverdueAfterThirtyDays) {
  Conn c = connect();
  create_schema(c.get());
  value(c.get(), "CREATE EXTENSION IF NOT EXISTS pg_unit_tests");
  value(c.get(), "INSERT INTO orders DEFAULT VALUES");
  EXPECT_EQ(value(c.get(), "SELECT count(*) FROM overdue_orders"), "0");
  value(c.get(), "SELECT unit_tests.advance('31 days')");  // only this session moves on
  EXPECT_NE(value(c.get(), "SELECT count(*) FROM overdue_orders"), "0");
  // Another session still lives at the frozen instant the server started with.
  Conn other = connect();
  EXPECT_EQ(value(other.get(), "SELECT count(*) FROM overdue_orders"), "0");
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  pg_unit_tests::ServerOptions options;
  options.freeze = "2030-01-01 00:00:00+00";
  options.settings = {"timezone=UTC"};
  ::testing::AddGlobalTestEnvironment(new pg_unit_tests::ServerEnvironment(options));
  return RUN_ALL_TESTS();
}
