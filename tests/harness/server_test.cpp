// The harness library against real servers: start, connect, stop, and what is left afterwards.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/server.hpp"
#include "support/pq.hpp"
#include "support/errors.hpp"
#include "support/process.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using pg_unit_tests::ExitCode;
using pg_unit_tests::Server;
using pg_unit_tests::ServerOptions;
using test_support::code_of;
using test_support::Connection;
using test_support::message_of;

namespace {

// Points the harness at a private base directory for one test.
using PrivateBase = test_support::ScratchBase;

}  // namespace

TEST(Server, StartsAnEmptyServerThatAnswers) {
  Server s = Server::start();
  Connection c(s.uri());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.value("SELECT 1"), "1");
  EXPECT_EQ(c.value("SHOW server_version_num").substr(0, 2), "15");
  EXPECT_EQ(c.value("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
            "0");
  EXPECT_EQ(c.value("SHOW listen_addresses"), "");
  EXPECT_EQ(c.value("SHOW fsync"), "off");
}

TEST(Server, SocketDirectoryOnlyItsOwnerCanEnter) {
  Server s = Server::start();
  struct stat st;
  ASSERT_EQ(stat(s.info().socket_directory.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // The base: nobody else may enter (under root, the server user's group may pass through).
  ASSERT_EQ(stat(s.info().directory.parent_path().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, geteuid() == 0 ? 0710u : 0700u);
}

TEST(Server, StopRemovesProcessesSocketAndFiles) {
  Server s = Server::start();
  const auto info = s.info();
  ASSERT_TRUE(test_support::alive(info.pid));
  ASSERT_TRUE(fs::exists(info.socket_directory / ".s.PGSQL.5432"));
  s.stop();
  EXPECT_FALSE(test_support::alive(info.pid));
  EXPECT_FALSE(test_support::alive(info.keeper_pid));
  EXPECT_FALSE(fs::exists(info.directory));
  EXPECT_TRUE(test_support::processes_matching(info.data_directory.string()).empty());
}

TEST(Server, DestructorStopsTheServer) {
  pg_unit_tests::ServerInfo info;
  {
    Server s = Server::start();
    info = s.info();
    Server moved = std::move(s);  // ownership moves; only one stop
    EXPECT_EQ(moved.info().pid, info.pid);
  }
  EXPECT_FALSE(test_support::alive(info.pid));
  EXPECT_FALSE(fs::exists(info.directory));
}

TEST(Server, RunsAsAnUnprivilegedUserUnderRoot) {
  Server s = Server::start();
  const uid_t server_uid = test_support::process_uid(s.info().pid);
  if (geteuid() == 0) {
    EXPECT_NE(server_uid, 0u) << "PostgreSQL must not run as root";
  } else {
    EXPECT_EQ(server_uid, geteuid());
  }
  // The caller can use what it is handed: connect, and read the server's directory.
  Connection c(s.uri());
  EXPECT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(fs::exists(s.info().data_directory / "PG_VERSION"));
}

TEST(Server, TcpListensOnLoopbackWithAPassword) {
  ServerOptions o;
  o.tcp = true;
  Server s = Server::start(o);
  EXPECT_EQ(s.info().host, "127.0.0.1");
  EXPECT_GT(s.info().port, 0);
  EXPECT_FALSE(s.info().password.empty());
  EXPECT_NE(s.uri().find(s.info().password), std::string::npos);
  Connection c(s.uri());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.value("SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(c.value("SELECT inet_server_addr()::text"), "127.0.0.1/32");
  // Without the password, TCP is refused; a wrong one too.
  const std::string base =
      "host=127.0.0.1 port=" + std::to_string(s.info().port) + " user=postgres dbname=postgres";
  Connection none(base + " password=''");
  EXPECT_FALSE(none.ok());
  Connection wrong(base + " password=wrong");
  EXPECT_FALSE(wrong.ok());
}

TEST(Server, ExtraSettingsApply) {
  ServerOptions o;
  o.settings = {"work_mem=7MB", "application_name=from_harness"};
  Server s = Server::start(o);
  Connection c(s.uri());
  EXPECT_EQ(c.value("SHOW work_mem"), "7MB");
}

TEST(Server, LocaleAndEncoding) {
  ServerOptions o;
  o.locale = "C";
  o.encoding = "SQL_ASCII";
  Server s = Server::start(o);
  Connection c(s.uri());
  EXPECT_EQ(c.value("SHOW server_encoding"), "SQL_ASCII");
  EXPECT_EQ(c.value("SELECT datcollate FROM pg_database WHERE datname = current_database()"), "C");
}

TEST(Server, BadSettingQuotesTheServersComplaint) {
  ServerOptions o;
  o.settings = {"work_mem=lots"};
  const std::string msg = message_of([&] { Server::start(o); });
  EXPECT_NE(msg.find("invalid value for parameter \"work_mem\""), std::string::npos) << msg;
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kServerStart);
}

TEST(Server, MalformedSettingIsAUsageError) {
  ServerOptions o;
  o.settings = {"no equals sign"};
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kUsage);
}

TEST(Server, BadLocaleIsReported) {
  ServerOptions o;
  o.locale = "xx_NOPE.UTF-8";
  const std::string msg = message_of([&] { Server::start(o); });
  EXPECT_NE(msg.find("xx_NOPE"), std::string::npos) << msg;
}

TEST(Server, MissingInstallation) {
  ServerOptions o;
  o.pg_config = "/nonexistent/bin/pg_config";
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kInstallation);
  o.pg_config = "/bin/true";  // runs, but is no pg_config
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kInstallation);
}

TEST(Server, InstallationWithoutServerBinaries) {
  // A pg_config that answers like one, for an installation that has no server.
  PrivateBase base;
  const fs::path bin = base.path / "fake" / "bin";
  fs::create_directories(bin);
  const fs::path config = bin / "pg_config";
  {
    std::ofstream f(config);
    f << "#!/bin/sh\nfor a; do case $a in\n--bindir) echo " << bin.string()
      << ";;\n--sharedir) echo /nonexistent;;\n--pkglibdir) echo /nonexistent;;\n"
         "--version) echo 'PostgreSQL 15.99';;\nesac; done\n";
  }
  fs::permissions(config, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::group_read);
  ServerOptions o;
  o.pg_config = config.string();
  const std::string msg = message_of([&] { Server::start(o); });
  EXPECT_NE(msg.find("has no 'postgres' binary"), std::string::npos) << msg;
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kInstallation);
}

TEST(Server, BaseDirectoryTheServerUserCannotReach) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands servers to another user";
  char tmpl[] = "/tmp/pgut-closed-XXXXXX";
  const fs::path closed = mkdtemp(tmpl);  // mode 0700, owned by root
  fs::create_directory(closed / "inner");
  setenv("PG_UNIT_TESTS_DIR", (closed / "inner").c_str(), 1);
  const std::string msg = message_of([&] { Server::start(); });
  unsetenv("PG_UNIT_TESTS_DIR");
  fs::remove_all(closed);
  EXPECT_NE(msg.find("cannot enter " + closed.string()), std::string::npos) << msg;
}

TEST(Server, ServesItsOwnExtensionFromTheBuildTree) {
  Server s = Server::start();
  Connection c(s.uri());
  ASSERT_NO_THROW(c.query("CREATE EXTENSION pg_unit_tests"));
  EXPECT_EQ(c.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'unit_tests'"), "1");
  // It came from the overlay, not from the system installation (nothing was installed there).
  EXPECT_EQ(c.value("SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql'"), "1");
}

TEST(Server, OwnExtensionFromAnExplicitDirectory) {
  // The repository's tree, built in place: what the build tree's link points at too.
  const fs::path tree = fs::path(PGUT_FIXTURES).parent_path().parent_path();
  setenv("PG_UNIT_TESTS_EXTENSION_DIR", tree.c_str(), 1);
  {
    Server s = Server::start();
    Connection c(s.uri());
    EXPECT_EQ(c.value("SHOW pg_unit_tests.time_control"), "on");
  }
  setenv("PG_UNIT_TESTS_EXTENSION_DIR", "/nonexistent", 1);
  const std::string msg = message_of([&] { Server::start(); });
  unsetenv("PG_UNIT_TESTS_EXTENSION_DIR");
  EXPECT_NE(msg.find("PG_UNIT_TESTS_EXTENSION_DIR=/nonexistent holds no build"), std::string::npos)
      << msg;
}

TEST(Server, ServesAPgxsExtensionFromItsSourceDirectory) {
  ServerOptions o;
  o.extensions = {fs::path(PGUT_FIXTURES) / "hello_ext"};
  o.create = {"hello_ext"};
  Server s = Server::start(o);
  Connection c(s.uri());
  EXPECT_EQ(c.value("SELECT hello('world')"), "hello, world");
  // Nothing was written into the system installation.
  const auto inst = pg_unit_tests::Installation::find();
  EXPECT_FALSE(fs::exists(inst.sharedir / "extension" / "hello_ext.control"));
  EXPECT_FALSE(fs::exists(inst.pkglibdir / "hello_ext.so"));
}

TEST(Server, ServesAModuleWithoutControlFile) {
  ServerOptions o;
  o.extensions = {fs::path(PGUT_FIXTURES) / "module_only"};
  o.settings = {"shared_preload_libraries=pgut_module"};
  Server s = Server::start(o);
  Connection c(s.uri());
  EXPECT_EQ(c.value("SHOW pgut_module.loaded"), "on");
}

TEST(Server, ExtensionThatDoesNotBuild) {
  ServerOptions o;
  o.extensions = {fs::path(PGUT_FIXTURES) / "broken_ext"};
  const std::string msg = message_of([&] { Server::start(o); });
  EXPECT_NE(msg.find("does not build"), std::string::npos) << msg;
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kExtension);
}

TEST(Server, ExtensionDirectoryWithoutControlFile) {
  ServerOptions o;
  o.extensions = {fs::path(PGUT_FIXTURES)};
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kExtension);
  o.extensions = {"/nonexistent/extension"};
  EXPECT_EQ(code_of([&] { Server::start(o); }), ExitCode::kExtension);
}

TEST(Server, CreateOfAnUnknownExtensionFailsAndLeavesNothing) {
  PrivateBase base;
  const auto before = Server::list().size();
  ServerOptions o;
  o.create = {"no_such_extension"};
  const std::string msg = message_of([&] { Server::start(o); });
  EXPECT_NE(msg.find("no_such_extension"), std::string::npos) << msg;
  EXPECT_EQ(Server::list().size(), before);
  size_t left = 0;
  for (const auto& e : fs::recursive_directory_iterator(base.path)) {
    left += e.path().parent_path().filename() == "run";
  }
  EXPECT_EQ(left, 0u);
}

TEST(Server, SixteenConcurrentStartsGiveSixteenServers) {
  std::vector<std::thread> threads;
  std::vector<std::optional<Server>> servers(16);
  std::vector<std::string> errors(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      try {
        ServerOptions o;
        o.tcp = (i % 2 == 0);
        servers[static_cast<size_t>(i)].emplace(Server::start(o));
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(i)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> uris, dirs;
  std::set<int> tcp_ports;
  for (size_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(servers[i]) << errors[i];
    uris.insert(servers[i]->uri());
    dirs.insert(servers[i]->info().directory.string());
    if (i % 2 == 0) tcp_ports.insert(servers[i]->info().port);
    Connection c(servers[i]->uri());
    ASSERT_TRUE(c.ok()) << c.error();
    c.query("CREATE TABLE mine (i int); INSERT INTO mine VALUES (" + std::to_string(i) + ")");
  }
  EXPECT_EQ(uris.size(), 16u);
  EXPECT_EQ(dirs.size(), 16u);
  EXPECT_EQ(tcp_ports.size(), 8u);
  for (size_t i = 0; i < 16; ++i) {
    Connection c(servers[i]->uri());
    EXPECT_EQ(c.value("SELECT i FROM mine"), std::to_string(i));  // each its own data
  }
}

TEST(Server, StopByUriOrDirectory) {
  const auto a = Server::start_detached();
  const auto b = Server::start_detached();
  Server::stop(a.uri);
  Server::stop(b.directory.string());
  EXPECT_FALSE(fs::exists(a.directory));
  EXPECT_FALSE(fs::exists(b.directory));
  EXPECT_FALSE(test_support::alive(a.pid));
  EXPECT_EQ(code_of([&] { Server::stop(a.uri); }), ExitCode::kNoSuchServer);
  EXPECT_EQ(code_of([&] { Server::stop("/nonexistent"); }), ExitCode::kNoSuchServer);
}

TEST(Server, IdleTimeoutRemovesAnUnusedServer) {
  ServerOptions o;
  o.idle_timeout = std::chrono::seconds(1);
  const auto info = Server::start_detached(o);
  EXPECT_TRUE(test_support::eventually([&] { return !fs::exists(info.directory); }));
  EXPECT_FALSE(test_support::alive(info.pid));
}

TEST(Server, IdleTimeoutWaitsForConnectedClients) {
  ServerOptions o;
  o.idle_timeout = std::chrono::seconds(1);
  o.tcp = true;
  const auto info = Server::start_detached(o);
  {
    Connection c(info.uri);  // over TCP
    ASSERT_TRUE(c.ok()) << c.error();
    Connection local(info.socket_conninfo());  // and over the socket
    ASSERT_TRUE(local.ok()) << local.error();
    // Well past the timeout, the server is still there for its clients.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    EXPECT_EQ(c.value("SELECT 1"), "1");
    EXPECT_TRUE(fs::exists(info.directory));
  }
  EXPECT_TRUE(test_support::eventually([&] { return !fs::exists(info.directory); }));
}

TEST(Server, BackendsThatConnectToTheirOwnServerReachIt) {
  // dblink and postgres_fdw's "loopback" server connect with the server's own libpq environment.
  for (bool tcp : {false, true}) {
    ServerOptions o;
    o.tcp = tcp;
    Server s = Server::start(o);
    Connection c(s.uri());
    ASSERT_TRUE(c.ok()) << c.error();
    c.query("CREATE EXTENSION dblink");
    EXPECT_EQ(c.value("SELECT x FROM dblink('dbname=postgres', 'SELECT 42') AS t(x int)"), "42");
    c.query("CREATE EXTENSION postgres_fdw");
    c.query("CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres')");
    c.query("CREATE USER MAPPING FOR CURRENT_USER SERVER loopback");
    c.query("CREATE TABLE local_t (x int); INSERT INTO local_t VALUES (7)");
    c.query("CREATE FOREIGN TABLE remote_t (x int) SERVER loopback OPTIONS (table_name 'local_t')");
    EXPECT_EQ(c.value("SELECT x FROM remote_t"), "7");
  }
}

TEST(Server, ListShowsRunningServers) {
  Server s = Server::start();
  bool found = false;
  for (const auto& i : Server::list()) found |= i.uri == s.uri();
  EXPECT_TRUE(found);
}

TEST(Server, EnvironmentForClients) {
  Server s = Server::start();
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : s.environment()) env[k] = v;
  EXPECT_EQ(env["DATABASE_URL"], s.uri());
  EXPECT_EQ(env["PGHOST"], s.info().socket_directory.string());
  EXPECT_EQ(env["PGUSER"], "postgres");
  EXPECT_EQ(env["PGDATABASE"], "postgres");
}
