// Unit tests (no server): how the libpq wrapper words what the server and libpq say.
#include "pq/connection.hpp"

#include <gtest/gtest.h>

#include "pg_unit_tests/error.hpp"

using pg_unit_tests::ExitCode;
using namespace pg_unit_tests::pq;

TEST(PqErrors, PrimaryAloneWhenThereIsNothingMore) {
  EXPECT_EQ(one_line(Diagnostics{"ERROR", "42P01", "relation \"t\" does not exist", "", ""}),
            "relation \"t\" does not exist");
}

TEST(PqErrors, DetailAndHintInParenthesesOnOneLine) {
  const Diagnostics d{"ERROR", "55006", "database \"x\" is being accessed by other users",
                      "There is 1 other session\nusing the database.", "Stop it first."};
  EXPECT_EQ(one_line(d),
            "database \"x\" is being accessed by other users (DETAIL: There is 1 other session "
            "using the database. HINT: Stop it first.)");
  EXPECT_EQ(one_line(Diagnostics{"ERROR", "", "bad", "", "try again"}), "bad (HINT: try again)");
}

TEST(PqErrors, ServerErrorKeepsTheParts) {
  const ServerError e(Diagnostics{"ERROR", "22007", "invalid input", "", "use ISO"},
                      ExitCode::kUsage);
  EXPECT_STREQ(e.what(), "invalid input (HINT: use ISO)");
  EXPECT_EQ(e.sqlstate, "22007");
  EXPECT_EQ(e.diagnostics.hint, "use ISO");
  EXPECT_EQ(e.code(), ExitCode::kUsage);
}

// A failure libpq reports without a result (a lost connection) is read through the same parts.
TEST(PqErrors, ServerErrorWithoutAResultHasItsMessageAsThePrimaryPart) {
  const ServerError e("", "server closed the connection unexpectedly", ExitCode::kDatabase);
  EXPECT_STREQ(e.what(), "server closed the connection unexpectedly");
  EXPECT_EQ(e.diagnostics.primary, "server closed the connection unexpectedly");
  EXPECT_EQ(e.sqlstate, "");
  EXPECT_EQ(e.code(), ExitCode::kDatabase);
}

TEST(PqErrors, FirstLineWithoutSeverityPrefix) {
  EXPECT_EQ(first_line("ERROR:  boom\nLINE 1: x\n"), "boom");
  EXPECT_EQ(first_line("FATAL:  no\n"), "no");
  EXPECT_EQ(first_line("server closed the connection unexpectedly\n\tThis probably"),
            "server closed the connection unexpectedly");
}

// No server is needed to fail: a socket directory that does not exist.
TEST(PqConnect, FailureCarriesLibpqsReasonApart) {
  const std::string conninfo = "host=/nonexistent/pgut port=1 dbname=postgres user=postgres";
  try {
    Connection c(conninfo, {}, ExitCode::kServerStart);
    FAIL() << "connected";
  } catch (const ConnectError& e) {
    EXPECT_EQ(e.code(), ExitCode::kServerStart);
    EXPECT_NE(e.reason.find("/nonexistent/pgut"), std::string::npos) << e.reason;
    EXPECT_EQ(e.reason.find('\n'), std::string::npos) << e.reason;
    EXPECT_NE(std::string(e.what()).find("cannot connect to " + conninfo + ": " + e.reason),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(server_answers(conninfo));
}
