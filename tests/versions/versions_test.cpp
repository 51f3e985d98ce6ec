// The harness across PostgreSQL versions. Each test runs over the default installation and every
// pg_config listed in $PG_CONFIGS (space-separated; `make test` sets it to its version matrix), so
// on a machine with several versions it checks each of them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using pg_unit_tests::Installation;
using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::Connection;

namespace {

// "" is the default installation.
std::vector<std::string> installations() {
  std::vector<std::string> out = {""};
  if (const char* list = std::getenv("PG_CONFIGS")) {
    std::istringstream words(list);
    for (std::string w; words >> w;) out.push_back(w);
  }
  return out;
}

int major_of(const std::string& pg_config) {
  return Installation::find(pg_config).major;
}

}  // namespace

TEST(Versions, ThrowAwayServersHaveNoChecksumsAndNoIoWorkers) {
  for (const auto& pg_config : installations()) {
    SCOPED_TRACE("pg_config " + (pg_config.empty() ? std::string("(default)") : pg_config));
    ServerOptions options;
    options.pg_config = pg_config;
    options.preload_pg_unit_tests = false;
    Server server = Server::start(options);
    Connection c(server.uri());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.value("SHOW data_checksums"), "off");
    if (major_of(pg_config) >= 18) {
      EXPECT_EQ(c.value("SHOW io_method"), "sync");
      EXPECT_EQ(c.value("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'io worker'"),
                "0");
    }
  }
}

