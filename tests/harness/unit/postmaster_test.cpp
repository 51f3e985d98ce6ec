// Unit tests (no server): postmaster.pid and log parsing.
#include "cluster/postmaster.hpp"

#include <gtest/gtest.h>

using pg_unit_tests::cluster::log_complaint;
using pg_unit_tests::cluster::parse_pid_file;

TEST(PidFile, AllEightLinesOfAReadyServer) {
  const auto p = parse_pid_file(
      "4242\n/dev/shm/x/run/ab/data\n1733000000\n5432\n/dev/shm/x/run/ab\n127.0.0.1\n"
      "  5432001     98311\nready   \n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pid, 4242);
  EXPECT_EQ(p->data_directory, "/dev/shm/x/run/ab/data");
  EXPECT_EQ(p->start_time, 1733000000);
  EXPECT_EQ(p->port, 5432);
  EXPECT_EQ(p->socket_directory, "/dev/shm/x/run/ab");
  EXPECT_EQ(p->listen_address, "127.0.0.1");
  EXPECT_EQ(p->shmem_key, 5432001);
  EXPECT_EQ(p->shmem_id, 98311);
  EXPECT_TRUE(p->ready());
}

TEST(PidFile, WrittenInStepsIsNotReadyYet) {
  // postgres writes the first lines at once and the rest as it gets there.
  auto p = parse_pid_file("4242\n/d\n1733000000\n5432\n/s\n\n");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->ready());
  EXPECT_EQ(p->shmem_id, -1);
  p = parse_pid_file("4242\n/d\n1733000000\n5432\n/s\n\n  5432001 98311\nstarting\n");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->ready());
  EXPECT_EQ(p->shmem_id, 98311);
}

TEST(PidFile, GarbageIsNoPidFile) {
  EXPECT_FALSE(parse_pid_file(""));
  EXPECT_FALSE(parse_pid_file("not a pid\n"));
  EXPECT_FALSE(parse_pid_file("0\n"));
  EXPECT_FALSE(parse_pid_file("-5\n"));
  EXPECT_FALSE(parse_pid_file("12\n/d\nnot a time\n"));
}

TEST(LogComplaint, FatalWithDetailAndHint) {
  const std::string log =
      "2024-01-01 00:00:00 UTC [1] LOG:  starting PostgreSQL 15\n"
      "2024-01-01 00:00:00 UTC [1] FATAL:  invalid value for parameter \"work_mem\": \"lots\"\n"
      "2024-01-01 00:00:00 UTC [1] DETAIL:  Something   about it.\n"
      "2024-01-01 00:00:00 UTC [1] HINT:  Try again.\n"
      "2024-01-01 00:00:00 UTC [1] LOG:  database system is shut down\n";
  EXPECT_EQ(log_complaint(log),
            "FATAL: invalid value for parameter \"work_mem\": \"lots\" DETAIL: Something about "
            "it. HINT: Try again.");
}

TEST(LogComplaint, OnlyTheFirstFatalAndItsOwnDetails) {
  const std::string log =
      "x PANIC:  could not write\n"
      "x LOG:  something else\n"
      "x DETAIL:  not ours\n"
      "x FATAL:  a second one\n";
  EXPECT_EQ(log_complaint(log), "PANIC: could not write");
}

TEST(LogComplaint, WithoutFatalTheLastLine) {
  EXPECT_EQ(log_complaint("line one\nsegfault in   line two\n\n"), "segfault in line two");
  EXPECT_EQ(log_complaint(""), "");
}
