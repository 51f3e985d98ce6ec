// Ephemeral PostgreSQL servers: start one in milliseconds, get its URI, stop it and remove every
// file it had. See README.md ("How the fast path works") for where files live and what it costs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/installation.hpp"

namespace pg_unit_tests {

struct ServerOptions {
  // Listen on 127.0.0.1 on a free port too, with a random password (part of the URI).
  bool tcp = false;
  // Stop and remove the server after this long without a client connection; 0 = never.
  // Only for detached servers (`pg_unit_tests start`); an owned Server lives as long as its owner.
  std::chrono::seconds idle_timeout{60};
  // Extra server settings, "name=value" each (as `-c name=value`).
  std::vector<std::string> settings;
  std::string locale;     // default C.UTF-8
  std::string encoding;   // default UTF8
  std::string pg_config;  // default: see Installation::find
  // PGXS extension source, staging or flat directories to serve from their build output.
  std::vector<std::filesystem::path> extensions;
  // Extensions to CREATE in the default database before the server is handed out.
  std::vector<std::string> create;
  // Serve and preload this project's own extension pg_unit_tests (with time control enabled) when
  // it can be found ($PG_UNIT_TESTS_EXTENSION_DIR, the build tree of the running program, or
  // installed into PostgreSQL). Set false for a stock server.
  bool preload_pg_unit_tests = true;
  // Start every session frozen at this instant (pg_unit_tests.frozen_at); needs the extension.
  std::string freeze;
  // Only for detached servers: stop the server when the process with this pid ends (its keeper
  // watches it through a pidfd), instead of after idle_timeout. 0: no such owner.
  int owner_pid = 0;

  // A migrated template: prepare the default database ("postgres") once, cache the result next to
  // the plain template, and start every later server of the same key from it (as fast as a plain
  // warm start). The key: the installation, settings, extensions and --create list, plus the
  // names and contents of the `init` files, the `init_command` line and its working directory,
  // and the names and contents of the `init_key` files. See README.md, "Migrated templates".
  //
  // SQL files, or directories whose *.sql files (not recursive) are applied in name order (byte
  // order); all in the order given, by one psql with ON_ERROR_STOP=1, in the current directory.
  std::vector<std::filesystem::path> init;
  // A shell command (sh -c), run after the files, in the current directory, with DATABASE_URL,
  // PGHOST, PGPORT, PGUSER, PGDATABASE (and PGPASSWORD with tcp) pointing at the database being
  // prepared: a migration tool (alembic, goose, knex, flyway, sqitch ...).
  std::string init_command;
  // Files or directories (recursively; hidden entries and __pycache__ left out) whose content is
  // part of the key: a command's migrations, or files that the init files include with \i.
  std::vector<std::filesystem::path> init_key;
};

// A database that `createdb` (Database::create) handed out from a server's pool of clones.
struct DatabaseInfo {
  std::string name;
  std::string template_name;    // "" for the server's default (its postgres database, migrated)
  std::string label;            // what the caller called it (a test's name), may be empty
  int owner_pid = 0;            // dropped when this process ends; 0: until dropdb or server stop
  std::int64_t created_at = 0;  // unix time of the handout
  bool pooled = false;          // came ready from the pool (false: cloned at the request)
};

// What a running server is: everything a client needs to connect, and where it lives.
struct ServerInfo {
  std::string id;
  std::string uri;
  std::string host;  // socket directory, or 127.0.0.1 with tcp
  int port = 0;
  std::string user;
  std::string password;  // empty without tcp
  std::string database;
  std::filesystem::path directory;  // the server's private directory (0700): socket, log, data
  std::filesystem::path data_directory;
  std::filesystem::path socket_directory;
  int pid = 0;         // postmaster
  int keeper_pid = 0;  // the watcher that stops and removes the server
  std::string version;
  // With tcp: jdbc:postgresql://127.0.0.1:PORT/postgres?user=...&password=... (JDBC has no
  // Unix sockets); empty otherwise.
  std::string jdbc_url;
  // The databases handed out from the server's pool (createdb), with owner and lifetime.
  std::vector<DatabaseInfo> databases;

  std::string to_json() const;
  // libpq keyword/value connection string over the Unix socket (works with and without tcp).
  std::string socket_conninfo(const std::string& dbname = {}) const;
};

// One ephemeral server, owned by this object: the destructor stops it and removes its files. If the
// owning process dies (even by SIGKILL), its connection to the server's keeper closes, and the
// keeper removes the server at once.
class Server {
 public:
  static Server start(const ServerOptions& options = {});

  // Starts a server that outlives this process (the CLI's `start`): removed after idle_timeout or
  // by stop().
  static ServerInfo start_detached(const ServerOptions& options = {});

  // Stops the server behind a URI, socket directory or server directory, and removes its files.
  // Throws Error(kNoSuchServer) if there is none.
  static void stop(const std::string& uri_or_directory);

  // Servers of this user that are running now (pre-started spares waiting in the pool excluded).
  static std::vector<ServerInfo> list();

  // Stops every server of this user, spares included; returns how many.
  static int stop_all();

  Server(Server&& other) noexcept;
  Server& operator=(Server&& other) noexcept;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  const ServerInfo& info() const { return info_; }
  const std::string& uri() const { return info_.uri; }
  // The environment a client needs: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, DATABASE_URL,
  // and PGHOSTADDR and PGSERVICE empty (unset them), as connection_environment() (command.hpp).
  std::vector<std::pair<std::string, std::string>> environment() const;

  // Stops the server now and removes its files (the destructor does it otherwise).
  void stop();

 private:
  Server() = default;
  ServerInfo info_;
  int control_fd_ = -1;    // our connection to the keeper: holding it open is owning the server
  int keeper_child_ = -1;  // the keeper's pid when it is our child (reaped after stop)
};

}  // namespace pg_unit_tests
