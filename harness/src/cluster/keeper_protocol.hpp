// The keeper protocol: everything the harness and a server's keeper say to each other.
//
// Every ephemeral server has one keeper: the small program `pg_unit_tests-keeper`
// (harness/src/keeper/), running as the server user, that owns the server for its whole life. It
// creates the server's private directory run/<id>/ (mode 0700), starts postgres as its own child
// (postgres gets SIGQUIT if the keeper dies), and in the end stops postgres and removes the
// directory. Nobody else stops a server or removes its directory while its keeper lives, and the
// harness never signals a process or deletes anything on the strength of a file's contents: it
// asks the keeper.
//
// ONE CHANNEL. A keeper is reached through one Unix socket, run/<id>/keeper.sock, inside the 0700
// directory; it lets in only its own user and root (SO_PEERCRED), and a client checks that the
// keeper runs as the server user. A successful connect is the liveness test: no socket (ENOENT)
// means the keeper is not there yet or any more, ECONNREFUSED that it is gone.
//
// LAUNCH. The harness starts the keeper through platform::spawn, always the same way:
// `pg_unit_tests-keeper serve DIR` as the server user, in a session of its own (Ctrl-C in a
// terminal does not reach it), with one end of a socketpair as file descriptor 3 (kLaunchFd). On
// it, the harness sends one line: the KeeperSpec as JSON. The keeper answers with one Reply line
// once postgres accepts connections (or failed to start; then everything is already removed).
// The launch connection then works like a connection to keeper.sock.
//
// OWNERSHIP. Who decides when the server goes is explicit (KeeperSpec::owned/owner_pid, or a
// claim), and the keeper's lifecycle is a state machine:
//
//   starting ──ready──> pooled (a pre-started spare: waits for a claim, retires after
//       │                 │       spare_idle seconds or when its pool token vanishes unclaimed)
//       │               claim
//       └─────ready─────> owned  ──────> stopping ──> (directory removed, STOP answered, exit)
//
//   An owned server has one owner: a connection (the launch connection of Server::start, or the
//   connection that claimed a spare: its EOF, which a SIGKILL of the owner also causes, stops the
//   server), a process (owner_pid, watched through a pidfd), or nobody (`pg_unit_tests start`:
//   the idle timeout, counted from /proc/net, or `stop` decides). Any state goes to stopping on a
//   STOP request, SIGTERM/SIGINT/SIGHUP, the postmaster's death, or the removal of the directory.
//
// REQUESTS. One JSON line each way per request, on keeper.sock or the launch connection:
//   {"op":"status"}                        -> {"ok":true,"status":{...}}      (`list`, `cache
//   status`)
//   {"op":"stop"}                          -> {"ok":true} after postgres has exited and the
//                                             directory is gone (no polling on the client's side)
//   {"op":"claim","owned":B,"idle_timeout":N,"owner_pid":P}
//                                          -> {"ok":true,"status":{...}} (pooled spares only)
//   {"op":"createdb","template_db":T,"label":L,"owner_pid":P,"pool_size":K}
//                                          -> {"ok":true,"database":{...}}   (owned servers)
//   {"op":"dropdb","database":NAME}        -> {"ok":true} at once; the drop follows
//   {"op":"harvest","target":NAME}         -> {"ok":true} once postgres has shut down cleanly
//                                             (a checkpoint), its data directory is cache/NAME
//                                             (NAME: mtmpl-*.building-*, never an existing
//                                             entry) and the rest is gone; only from the
//                                             connection that owns the server. This is how a
//                                             migrated template is made (cluster/migration.hpp).
//   Failures: {"ok":false,"code":EXIT_CODE,"message":"one line"}.
//
// DATABASES. createdb and dropdb are served by the keeper's database pool: a program of its own,
// `pg_unit_tests-pool` (harness/src/pool/, it links libpq, which the keeper does not), that the
// keeper starts as its child on the first such request and talks to over a socketpair with the
// same lines, each request carrying a "tag" (the client's id) that its reply repeats. The pool
// keeps pool_size clones of each template nobody can connect to (the server's default: a private
// copy of its postgres database, pgut_template; or a snapshot) made ahead, hands one out per
// request (cloning at once when none is ready), refills in the background, drops asynchronously
// (DROP DATABASE ... WITH (FORCE)), and drops a database whose owner process ends (a pidfd). It
// tells the keeper what it handed out ({"event":"databases","databases":[...],"pooled":N}), which
// the keeper's status shows.
//
// SPARES. A pooled keeper publishes a pool token, cache/pool-<pool_key>-<id>. A claimer takes the
// token with one unlink(2) (only one can succeed), then connects and sends "claim"; a keeper
// claims only after its token is gone. A keeper whose token vanishes without a claim within
// kClaimGrace retires (the claimer died, or the cache was removed). After a claim, the keeper
// starts a replacement spare (a new keeper, launched the same way).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/server.hpp"
#include "platform/fd.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DatabaseInfo, name, template_name, label, owner_pid,
                                                created_at, pooled)
// ServerInfo as JSON: `start --json`, `list --json`, the keeper's status.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServerInfo, uri, host, port, user, password,
                                                database, id, directory, data_directory,
                                                socket_directory, pid, keeper_pid, version,
                                                jdbc_url, databases)
}  // namespace pg_unit_tests

namespace pg_unit_tests::cluster {

inline constexpr int kLaunchFd = 3;
inline constexpr const char* kKeeperSocket = "keeper.sock";
inline constexpr const char* kKeeperExecutable = "pg_unit_tests-keeper";
inline constexpr const char* kPoolPrefix = "pool-";
inline constexpr std::chrono::seconds kClaimGrace{10};

// What a keeper is asked to start.
struct KeeperSpec {
  std::string id;
  std::filesystem::path directory;  // run/<id>, created by the keeper
  std::filesystem::path cache;      // spare data directories, pool tokens
  std::filesystem::path template_dir;
  std::string template_key;
  std::filesystem::path postgres;  // the binary to start (system or overlay)
  std::filesystem::path overlay;   // the overlay root in use, if any
  std::string version;
  std::vector<std::string> settings;  // name=value, in order
  bool tcp = false;
  std::string password;   // with tcp: the harness sets it; the keeper only reports it
  int idle_timeout = 60;  // seconds, 0 = never; for a server owned by nobody
  bool owned = false;     // owned by the launch connection
  int owner_pid = 0;      // owned by this process (when not by the connection)
  // A pre-started spare: pooled until claimed (token cache/pool-<pool_key>-<id>), or retired
  // after spare_idle seconds.
  bool spare = false;
  std::string pool_key;
  int spare_idle = 600;
};

// One more pre-started spare like `spec`'s server: a new id and run directory beside its, owned by
// nobody, pooled until claimed (what --keep-warm and a claimed spare's keeper launch).
KeeperSpec spare_of(const KeeperSpec& spec);

enum class KeeperState { kStarting, kPooled, kOwned, kStopping };
const char* to_string(KeeperState state);

// A keeper's answer to "status" (and its launch report).
struct KeeperStatus {
  ServerInfo info;  // without uri: the harness composes it (the keeper links no libpq)
  std::string state;
  std::string owner;  // "connection", "process N", "nobody (idle timeout N s)", "" when pooled
  std::filesystem::path overlay;
  int pooled = 0;    // clones ready in the pool
  int pool_pid = 0;  // the database pool's process, once started
};

struct Request {
  std::string op;  // status, stop, claim, createdb, dropdb, harvest
  bool owned = false;
  int idle_timeout = 60;
  int owner_pid = 0;
  // createdb, dropdb
  std::string template_db{};  // "": the server's default
  std::string label{};
  std::string database{};  // dropdb
  int pool_size = 4;       // clones of the template kept ready
  int tag = -1;            // between the keeper and its pool: the client the reply goes to
  std::string target{};    // harvest: the entry in the cache that the data directory becomes
};

struct Reply {
  bool ok = false;
  int code = static_cast<int>(ExitCode::kSystem);
  std::string message;
  std::optional<KeeperStatus> status;
  std::optional<DatabaseInfo> database;  // createdb

  static Reply failure(ExitCode code, std::string message);
  static Reply success(std::optional<KeeperStatus> status = std::nullopt);
  // Throws Error(code, message) for a failure.
  const Reply& check() const;
};

// The protocol's lines (one JSON object each, no newline inside). decode_* throw Error(kSystem)
// naming what was malformed.
std::string encode(const KeeperSpec& spec);
std::string encode(const Request& request);
std::string encode(const Reply& reply);
KeeperSpec decode_spec(const std::string& line);
Request decode_request(const std::string& line);
Reply decode_reply(const std::string& line);

// The pool token of a spare server.
std::string pool_token_name(const std::string& pool_key, const std::string& id);

// LAUNCH, the one way every keeper is started: `program serve DIR` (as `as`, when root hands the
// server to the server user) in a session of its own, detached unless spec.owned (then it is our
// child), with its launch socket as kLaunchFd, and `spec` sent on it. The report is left unread on
// `connection`: launch_keeper (cluster/keeper_client.hpp) waits for it; a spare for a later start
// is launched with nobody waiting (drop the connection). Throws Error(kSystem) if the keeper
// cannot be started or ends before it has its specification.
struct SpawnedKeeper {
  pid_t pid = -1;  // when it is our child (spec.owned); else -1
  platform::Fd connection;
};
SpawnedKeeper spawn_keeper(const KeeperSpec& spec, const std::optional<platform::Credentials>& as,
                           const std::filesystem::path& program);

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KeeperSpec, id, directory, cache, template_dir,
                                                template_key, postgres, overlay, version, settings,
                                                tcp, password, idle_timeout, owned, owner_pid,
                                                spare, pool_key, spare_idle)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KeeperStatus, info, state, owner, overlay, pooled,
                                                pool_pid)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Request, op, owned, idle_timeout, owner_pid,
                                                template_db, label, database, pool_size, tag,
                                                target)

}  // namespace pg_unit_tests::cluster
