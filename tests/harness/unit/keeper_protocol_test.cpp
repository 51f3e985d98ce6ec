// Unit tests (no server): the keeper protocol's lines (cluster/keeper_protocol.hpp).
#include "cluster/keeper_protocol.hpp"

#include <gtest/gtest.h>

using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;
using namespace pg_unit_tests::cluster;

TEST(KeeperProtocol, SpecificationRoundTrip) {
  KeeperSpec s;
  s.id = "ab12cd34ef";
  s.directory = "/dev/shm/pg_unit_tests-0/run/ab12cd34ef";
  s.cache = "/dev/shm/pg_unit_tests-0/cache";
  s.settings = {"shared_preload_libraries=pg_unit_tests", "work_mem=1MB"};
  s.tcp = true;
  s.password = "0123";
  s.idle_timeout = 0;
  s.owned = true;
  s.owner_pid = 42;
  s.spare = true;
  s.pool_key = "k";
  s.spare_idle = 3;
  const std::string line = encode(s);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const KeeperSpec back = decode_spec(line);
  EXPECT_EQ(back.id, s.id);
  EXPECT_EQ(back.directory, s.directory);
  EXPECT_EQ(back.settings, s.settings);
  EXPECT_TRUE(back.tcp && back.owned && back.spare);
  EXPECT_EQ(back.password, "0123");
  EXPECT_EQ(back.owner_pid, 42);
  EXPECT_EQ(back.spare_idle, 3);
  EXPECT_EQ(back.idle_timeout, 0);
}

TEST(KeeperProtocol, SpareOfIsAnotherUnownedSpareBesideTheServer) {
  KeeperSpec s;
  s.id = "ab12cd34ef";
  s.directory = "/dev/shm/pg_unit_tests-0/run/ab12cd34ef";
  s.settings = {"work_mem=1MB"};
  s.owned = true;
  s.owner_pid = 42;
  s.pool_key = "k";
  const KeeperSpec spare = spare_of(s);
  EXPECT_NE(spare.id, s.id);
  EXPECT_EQ(spare.id.size(), s.id.size());
  EXPECT_EQ(spare.directory, s.directory.parent_path() / spare.id);
  EXPECT_TRUE(spare.spare);
  EXPECT_FALSE(spare.owned);
  EXPECT_EQ(spare.owner_pid, 0);
  EXPECT_EQ(spare.settings, s.settings);
  EXPECT_EQ(spare.pool_key, "k");
  EXPECT_NE(spare_of(s).id, spare.id);
}

TEST(KeeperProtocol, MissingFieldsTakeTheirDefaults) {
  const KeeperSpec s = decode_spec(R"({"id":"x"})");
  EXPECT_EQ(s.idle_timeout, 60);
  EXPECT_FALSE(s.owned);
  EXPECT_EQ(s.spare_idle, 600);
  const Request r = decode_request(R"({"op":"stop"})");
  EXPECT_EQ(r.op, "stop");
  EXPECT_FALSE(r.owned);
}

TEST(KeeperProtocol, RepliesCarryTheErrorOrTheStatus) {
  const Reply failure = decode_reply(
      encode(Reply::failure(ExitCode::kServerStart, "the server did not start: FATAL: x")));
  EXPECT_FALSE(failure.ok);
  EXPECT_EQ(failure.code, static_cast<int>(ExitCode::kServerStart));
  try {
    failure.check();
    FAIL() << "check() passed a failure";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kServerStart);
    EXPECT_STREQ(e.what(), "the server did not start: FATAL: x");
  }
  KeeperStatus st;
  st.info.id = "ab";
  st.info.port = 5432;
  st.state = to_string(KeeperState::kPooled);
  st.overlay = "/o";
  const Reply ok = decode_reply(encode(Reply::success(st)));
  ASSERT_TRUE(ok.ok && ok.status);
  EXPECT_EQ(ok.status->info.port, 5432);
  EXPECT_EQ(ok.status->state, "pooled");
  EXPECT_EQ(ok.status->overlay, "/o");
  EXPECT_NO_THROW(ok.check());
  EXPECT_FALSE(decode_reply(encode(Reply::success())).status);
}

TEST(KeeperProtocol, InvalidUtf8InAReplyIsReplacedNotFatal) {
  const std::string line = encode(Reply::failure(ExitCode::kServerStart, "bad \xff byte"));
  EXPECT_NE(decode_reply(line).message.find("bad"), std::string::npos);
}

TEST(KeeperProtocol, MalformedLinesAreSystemErrors) {
  for (const char* bad : {"", "not json", "[]", R"({"ok":"yes"})"}) {
    try {
      decode_reply(bad);
      ADD_FAILURE() << "decoded " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kSystem) << bad;
    }
  }
  EXPECT_THROW(decode_spec(R"({"idle_timeout":"soon"})"), Error);
}

TEST(KeeperProtocol, PoolTokenNames) {
  EXPECT_EQ(pool_token_name("0123456789abcdef", "ab12cd34ef"), "pool-0123456789abcdef-ab12cd34ef");
}

TEST(KeeperProtocol, DatabaseRequestsAndTheirAnswer) {
  Request r{"createdb"};
  r.template_db = "fixture";
  r.label = "test \"orders\"";
  r.owner_pid = 42;
  r.pool_size = 0;
  r.tag = 7;
  const Request back = decode_request(encode(r));
  EXPECT_EQ(back.op, "createdb");
  EXPECT_EQ(back.template_db, "fixture");
  EXPECT_EQ(back.label, r.label);
  EXPECT_EQ(back.owner_pid, 42);
  EXPECT_EQ(back.pool_size, 0);
  EXPECT_EQ(back.tag, 7);
  // Defaults: the server's default template, a pool of 4, no tag.
  const Request d = decode_request(R"({"op":"createdb"})");
  EXPECT_EQ(d.template_db, "");
  EXPECT_EQ(d.pool_size, 4);
  EXPECT_EQ(d.tag, -1);
  Reply ok = Reply::success();
  ok.database = pg_unit_tests::DatabaseInfo{"pgut_test_1_2_3", "", "t", 42, 1700000000, true};
  const Reply answer = decode_reply(encode(ok));
  ASSERT_TRUE(answer.database);
  EXPECT_EQ(answer.database->name, "pgut_test_1_2_3");
  EXPECT_EQ(answer.database->owner_pid, 42);
  EXPECT_TRUE(answer.database->pooled);
  EXPECT_FALSE(decode_reply(encode(Reply::success())).database);
}
