// Unit tests (no server): connection strings read with libpq's parser and written as URIs.
#include "pq/conninfo.hpp"

#include <gtest/gtest.h>

#include <map>

#include "pg_unit_tests/command.hpp"
#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/server.hpp"

using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;
using namespace pg_unit_tests::pq;

TEST(Conninfo, SocketServerUriAsStartPrintsIt) {
  const std::string uri = make_uri({{"user", "postgres"},
                                    {"dbname", "postgres"},
                                    {"host", "/dev/shm/pg_unit_tests-0/run/ab12"},
                                    {"port", "5432"}});
  EXPECT_EQ(uri,
            "postgresql://postgres@/postgres?host=%2Fdev%2Fshm%2Fpg_unit_tests-0%2Frun%2Fab12"
            "&port=5432");
  const Options back = parse_conninfo(uri);
  EXPECT_EQ(back.at("host"), "/dev/shm/pg_unit_tests-0/run/ab12");
  EXPECT_EQ(back.at("port"), "5432");
  EXPECT_EQ(back.at("user"), "postgres");
  EXPECT_EQ(back.at("dbname"), "postgres");
}

TEST(Conninfo, TcpServerUriWithAPasswordThatNeedsEncoding) {
  const Options o = {{"user", "postgres"},
                     {"password", "p@ss:w/rd%"},
                     {"host", "127.0.0.1"},
                     {"port", "40001"},
                     {"dbname", "my db"}};
  const std::string uri = make_uri(o);
  EXPECT_EQ(uri, "postgresql://postgres:p%40ss%3Aw%2Frd%25@127.0.0.1:40001/my%20db");
  EXPECT_EQ(parse_conninfo(uri), o);
}

TEST(Conninfo, OtherOptionsBecomeQueryParameters) {
  const Options o = {
      {"host", "::1"}, {"dbname", "d"}, {"sslmode", "disable"}, {"application_name", "a&b"}};
  const std::string uri = make_uri(o);
  EXPECT_EQ(uri, "postgresql://[::1]/d?application_name=a%26b&sslmode=disable");
  EXPECT_EQ(parse_conninfo(uri), o);
}

TEST(Conninfo, KeywordValueStringsToo) {
  const Options o = parse_conninfo("host='/tmp/a b' port=5433 dbname=x");
  EXPECT_EQ(o.at("host"), "/tmp/a b");
  EXPECT_EQ(o.at("port"), "5433");
  EXPECT_EQ(o.at("dbname"), "x");
}

TEST(Conninfo, GarbageIsAUsageError) {
  try {
    parse_conninfo("postgresql://[::1");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_conninfo("no_such_keyword=1"), Error);
}

TEST(Conninfo, WithDatabaseReplacesOnlyTheDatabase) {
  using pg_unit_tests::with_database;
  EXPECT_EQ(with_database("postgresql://postgres@/postgres?host=%2Fs%2Fr&port=5432", "pgut_test_1"),
            "postgresql://postgres@/pgut_test_1?host=%2Fs%2Fr&port=5432");
  EXPECT_EQ(with_database("postgresql://u:pw@127.0.0.1:5/db?sslmode=disable", "o/ther"),
            "postgresql://u:pw@127.0.0.1:5/o%2Fther?sslmode=disable");
  EXPECT_EQ(parse_conninfo(with_database("host=/s port=7 dbname=a", "b")).at("dbname"), "b");
  EXPECT_EQ(parse_conninfo(with_database("host=/s port=7 dbname=a", "b")).at("port"), "7");
}

TEST(Conninfo, EnvironmentUnsetsWhatWouldSendLibpqElsewhere) {
  // libpq prefers a service's host and port to PGHOST and PGPORT, and PGHOSTADDR to PGHOST: left
  // from the caller's shell, either would point a command at another server.
  const auto env =
      pg_unit_tests::connection_environment("postgresql://postgres@/postgres?host=%2Fs&port=5432");
  std::map<std::string, std::string> m(env.begin(), env.end());
  for (const char* name : {"PGSERVICE", "PGHOSTADDR"}) {
    ASSERT_TRUE(m.count(name)) << name << " is left as the caller had it";
    EXPECT_EQ(m[name], "") << name;  // an empty value unsets
  }
  EXPECT_EQ(m["PGHOST"], "/s");
}

TEST(Conninfo, HidePasswordMasksEveryFormAndKeepsTheRest) {
  EXPECT_EQ(hide_password("postgresql://postgres:p%40ss@127.0.0.1:5432/db?sslmode=disable"),
            "postgresql://postgres:****@127.0.0.1:5432/db?sslmode=disable");
  EXPECT_EQ(hide_password("postgres://u:pw@[::1]/d?password=x&application_name=a"),
            "postgres://u:****@[::1]/d?password=****&application_name=a");
  EXPECT_EQ(hide_password("postgresql://u@h/d?a=1&password=secret"),
            "postgresql://u@h/d?a=1&password=****");
  EXPECT_EQ(hide_password("postgresql:///postgres?host=%2Fdev%2Fshm%2Fx&port=5432"),
            "postgresql:///postgres?host=%2Fdev%2Fshm%2Fx&port=5432");
  EXPECT_EQ(hide_password("host=/tmp port=5 password='it\\'s secret' user=me"),
            "host=/tmp port=5 password=**** user=me");
  EXPECT_EQ(hide_password("password = plain dbname=x"), "password = **** dbname=x");
  EXPECT_EQ(hide_password("host=h"), "host=h");
  // What libpq rejects is quoted in its error, masked too.
  try {
    parse_conninfo("postgresql://u:TopSecret@[::1");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("TopSecret"), std::string::npos) << e.what();
  }
}

// Keyword/value strings quote every value: a database or directory name with a quote, a backslash
// or a space is one value, never more options.
TEST(Conninfo, KeywordStringsQuoteEveryValue) {
  const Options o = {{"host", "/tmp/it's a\\dir"},
                     {"dbname", "x' host='elsewhere"},
                     {"user", "O'Brien"},
                     {"port", "5432"}};
  const std::string text = keyword_conninfo(o);
  EXPECT_EQ(text.find("://"), std::string::npos) << text;
  EXPECT_EQ(parse_conninfo(text), o) << text;
}

TEST(Conninfo, ASocketServersConninfoKeepsNamesWhole) {
  pg_unit_tests::ServerInfo info;
  info.socket_directory = "/tmp/it's a\\dir";
  info.port = 5432;
  info.user = "postgres";
  info.database = "postgres";
  const Options o = parse_conninfo(info.socket_conninfo("x' host='elsewhere"));
  EXPECT_EQ(o.at("host"), "/tmp/it's a\\dir");
  EXPECT_EQ(o.at("dbname"), "x' host='elsewhere");
  EXPECT_EQ(o.at("port"), "5432");
}
