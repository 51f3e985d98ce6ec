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

#include <nlohmann/json.hpp>

#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using pg_unit_tests::Installation;
using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::cli;
using test_support::Connection;
using test_support::run;

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

// A pg_config that describes the default installation's binaries under another version and
// without PGXS: what the harness sees of a version the extension cannot be built for.
struct FakeInstallation {
  fs::path dir;
  fs::path pg_config;
  FakeInstallation(const std::string& version) {
    char tmpl[] = "/tmp/pgut-test-XXXXXX";
    dir = mkdtemp(tmpl);
    chmod(dir.c_str(), 0755);
    const Installation real = Installation::find();
    pg_config = dir / "pg_config";
    std::ofstream(pg_config) << "#!/bin/sh\n"
                             << "for a; do case $a in\n"
                             << "  --bindir) echo " << real.bindir.string() << ";;\n"
                             << "  --sharedir) echo " << real.sharedir.string() << ";;\n"
                             << "  --pkglibdir) echo " << real.pkglibdir.string() << ";;\n"
                             << "  --version) echo 'PostgreSQL " << version << "';;\n"
                             << "  --pgxs) echo " << (dir / "no-pgxs.mk").string() << ";;\n"
                             << "  *) " << real.pg_config.string() << " \"$a\";;\n"
                             << "esac; done\n";
    chmod(pg_config.c_str(), 0755);
  }
  ~FakeInstallation() { fs::remove_all(dir); }
};

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

TEST(Versions, EveryInstallationIsServedTheExtensionBuiltForIt) {
  for (const auto& pg_config : installations()) {
    SCOPED_TRACE("pg_config " + (pg_config.empty() ? std::string("(default)") : pg_config));
    ServerOptions options;
    options.pg_config = pg_config;
    options.create.push_back("pg_unit_tests");
    // Preloaded: a library built for another version would not even let the server start.
    Server server = Server::start(options);
    Connection c(server.uri());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.value("SELECT current_setting('server_version_num')::int / 10000"),
              std::to_string(major_of(pg_config)));
    EXPECT_EQ(c.value("SELECT enabled FROM unit_tests.time_status()"), "t");
    EXPECT_EQ(c.value("SELECT current_setting('shared_preload_libraries')"), "pg_unit_tests");
  }
}

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

TEST(Versions, TemplateKeysNameTheMajorVersion) {
  for (const auto& pg_config : installations()) {
    auto r = run({cli(), "start", "--stock", "--json", "--pg-config",
                  Installation::find(pg_config).pg_config.string()});
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string major = std::to_string(major_of(pg_config));
    EXPECT_NE(r.out.find("\"version\":\"" + major + "."), std::string::npos) << r.out;
    auto status = run({cli(), "cache", "status"});
    EXPECT_NE(status.out.find("template pg" + major + "_"), std::string::npos) << status.out;
    auto uri = r.out.substr(r.out.find("\"uri\":\"") + 7);
    run({cli(), "stop", uri.substr(0, uri.find('"'))});
  }
}

namespace {

// `start` on the installation is refused with one line naming each of `reasons` and exit code 5;
// `start --stock` works.
void expect_refused_but_stock_works(const FakeInstallation& inst,
                                    const std::vector<std::string>& reasons) {
  auto r = run({cli(), "start", "--pg-config", inst.pg_config.string()});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  for (const auto& reason : reasons) EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--stock"), std::string::npos) << r.err;

  auto stock = run({cli(), "start", "--stock", "--pg-config", inst.pg_config.string()});
  ASSERT_EQ(stock.status, 0) << stock.err;
  EXPECT_EQ(run({cli(), "stop", first_line(stock.out)}).status, 0);
}

}  // namespace

TEST(Versions, AVersionTheExtensionDoesNotSupportIsOneLineAndWorksWithStock) {
  expect_refused_but_stock_works(FakeInstallation("14.11"), {"PostgreSQL 14.11", "15 to 18"});
}

TEST(Versions, AnInstallationWithoutPgxsIsOneLineAndWorksWithStock) {
  // Another version than the build tree's, so the harness has to build the extension for it.
  expect_refused_but_stock_works(FakeInstallation("16.2"), {"no PGXS", "postgresql-server-dev-16"});
}

TEST(Versions, CacheStatusNamesTheVersionOfWhatItHolds) {
  for (const auto& pg_config : installations()) {
    ServerOptions options;
    options.pg_config = pg_config;
    Server server = Server::start(options);
  }
  auto r = run({cli(), "cache", "status", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto status = nlohmann::json::parse(r.out);
  for (const auto& pg_config : installations()) {
    const std::string version = Installation::find(pg_config).version;
    bool template_found = false;
    for (const auto& item : status["items"]) {
      if (item["kind"] == "template" && item.value("version", "") == version) template_found = true;
    }
    EXPECT_TRUE(template_found) << "no template of PostgreSQL " << version << " in " << r.out;
  }
  for (const auto& item : status["items"]) {
    const std::string kind = item["kind"];
    if (kind != "template" && kind != "spare" && kind != "build") continue;
    ASSERT_TRUE(item.contains("version")) << item.dump();
    EXPECT_NE(
        item["detail"].get<std::string>().find("PostgreSQL " + item["version"].get<std::string>()),
        std::string::npos)
        << item.dump();
  }
}
