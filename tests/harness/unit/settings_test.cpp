// Unit tests (no server): server settings checked and composed with the harness's own.
#include "cluster/settings.hpp"

#include <gtest/gtest.h>

#include "pg_unit_tests/error.hpp"
#include "support/errors.hpp"

using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;
using namespace pg_unit_tests::cluster;
using test_support::code_of;

namespace {
std::vector<std::string> arguments(const SettingsRequest& r) {
  std::vector<std::string> out;
  for (const auto& s : compose_settings(r)) out.push_back(s.argument());
  return out;
}
}  // namespace

TEST(Settings, ParsesNameEqualsValue) {
  EXPECT_EQ(parse_setting("work_mem=64MB"), (Setting{"work_mem", "64MB"}));
  EXPECT_EQ(parse_setting("Work_Mem=64MB"), (Setting{"work_mem", "64MB"}));
  EXPECT_EQ(parse_setting("a.b=x=y"), (Setting{"a.b", "x=y"}));
  EXPECT_EQ(parse_setting("search_path="), (Setting{"search_path", ""}));
  EXPECT_EQ(parse_setting("_x=1"), (Setting{"_x", "1"}));
}

TEST(Settings, RefusesWhatIsNoSetting) {
  for (const char* bad : {"work_mem", "=1", "1x=2", "a b=1", "a-b=1", "a;b=1", ""}) {
    EXPECT_EQ(code_of([&] { parse_setting(bad); }), ExitCode::kUsage) << bad;
  }
}

TEST(Settings, LibraryLists) {
  EXPECT_EQ(split_library_list("a, b ,\"c\",,a"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_library_list("").empty());
  EXPECT_TRUE(split_library_list(" , ").empty());
}

TEST(Settings, OwnExtensionFirstThenTheUsersInTheirOrder) {
  EXPECT_EQ(
      arguments({{"work_mem=1MB", "shared_preload_libraries=pg_cron", "work_mem=2MB"}, true, ""}),
      (std::vector<std::string>{"shared_preload_libraries=pg_unit_tests,pg_cron",
                                "pg_unit_tests.time_control=on", "work_mem=1MB", "work_mem=2MB"}));
}

TEST(Settings, PreloadListsMergeAsASet) {
  // Named by the user too, and in two settings: each library once, ours first.
  EXPECT_EQ(
      arguments({{"shared_preload_libraries='a, pg_unit_tests'", "SHARED_PRELOAD_LIBRARIES=b,a"},
                 true,
                 ""})
          .front(),
      "shared_preload_libraries=pg_unit_tests,a,b");
  EXPECT_EQ(
      arguments(
          {{"shared_preload_libraries=a,pg_unit_tests", "shared_preload_libraries=b,a"}, true, ""})
          .front(),
      "shared_preload_libraries=pg_unit_tests,a,b");
  // A library whose name merely contains ours is another library.
  EXPECT_EQ(arguments({{"shared_preload_libraries=pg_unit_tests_extra"}, true, ""}).front(),
            "shared_preload_libraries=pg_unit_tests,pg_unit_tests_extra");
  EXPECT_EQ(arguments({{"shared_preload_libraries=x"}, false, ""}),
            (std::vector<std::string>{"shared_preload_libraries=x"}));
  EXPECT_TRUE(arguments({{"shared_preload_libraries="}, false, ""}).empty());
}

TEST(Settings, FreezeNeedsTheExtension) {
  EXPECT_EQ(arguments({{}, true, "2024-01-01 00:00:00+00"}),
            (std::vector<std::string>{"shared_preload_libraries=pg_unit_tests",
                                      "pg_unit_tests.time_control=on",
                                      "pg_unit_tests.frozen_at=2024-01-01 00:00:00+00"}));
  EXPECT_EQ(code_of([] { compose_settings({{}, false, "2024-01-01"}); }), ExitCode::kExtension);
}

TEST(Settings, WhatIsTheHarnesssToChooseIsRefusedByName) {
  for (const char* s :
       {"listen_addresses=*", "LISTEN_ADDRESSES=0.0.0.0", "port=5433",
        "unix_socket_directories=/tmp", "unix_socket_permissions=0777", "unix_socket_group=users",
        "hba_file=/tmp/hba", "ident_file=/x", "data_directory=/x", "config_file=/x"}) {
    try {
      compose_settings({{s}, false, ""});
      ADD_FAILURE() << "accepted " << s;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsage) << s;
      const std::string name = parse_setting(s).name;
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  // No TCP is what the harness does anyway.
  EXPECT_TRUE(arguments({{"listen_addresses="}, false, ""}).empty());
}
