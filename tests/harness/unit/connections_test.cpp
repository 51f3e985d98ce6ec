// Unit tests (no server): counting a server's client connections from /proc/net tables.
#include "cluster/connections.hpp"

#include <gtest/gtest.h>

using pg_unit_tests::cluster::count_tcp_connections;
using pg_unit_tests::cluster::count_unix_connections;

TEST(ProcNetUnix, CountsConnectedSocketsOfThatPathOnly) {
  const std::string table =
      "Num       RefCount Protocol Flags    Type St Inode Path\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 1001 /s/run/a/.s.PGSQL.5432\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1002 /s/run/a/.s.PGSQL.5432\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1003 /s/run/a/.s.PGSQL.5432\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1004 /s/run/b/.s.PGSQL.5432\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1005 /s/run/a/.s.PGSQL.5432.x\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1006\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1007 /s/run/a/keeper.sock\n";
  EXPECT_EQ(count_unix_connections(table, "/s/run/a/.s.PGSQL.5432"), 2);
  EXPECT_EQ(count_unix_connections(table, "/s/run/b/.s.PGSQL.5432"), 1);
  EXPECT_EQ(count_unix_connections(table, "/s/run/c/.s.PGSQL.5432"), 0);
}

TEST(ProcNetUnix, PathsWithBlanks) {
  const std::string table =
      "Num RefCount Protocol Flags Type St Inode Path\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1002 /my dir/.s.PGSQL.5432\n";
  EXPECT_EQ(count_unix_connections(table, "/my dir/.s.PGSQL.5432"), 1);
  EXPECT_EQ(count_unix_connections(table, "dir/.s.PGSQL.5432"), 0);
}

TEST(ProcNetTcp, CountsEstablishedConnectionsToTheLocalPort) {
  // 0x1538 = 5432, 0x1539 = 5433; st 0A = LISTEN, 01 = ESTABLISHED.
  const std::string table =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998\n"
      "   1: 0100007F:1538 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   998\n"
      "   2: 0100007F:D2F0 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0\n"
      "   3: 0100007F:1539 0100007F:D2F1 01 00000000:00000000 00:00000000 00000000   998\n"
      "   4: 0100007F:1538 0100007F:D2F2 06 00000000:00000000 00:00000000 00000000   998\n";
  // The client's side (local port D2F0) and a TIME_WAIT (06) do not count.
  EXPECT_EQ(count_tcp_connections(table, 5432), 1);
  EXPECT_EQ(count_tcp_connections(table, 5433), 1);
  EXPECT_EQ(count_tcp_connections(table, 5434), 0);
  EXPECT_EQ(count_tcp_connections("", 5432), 0);
}
