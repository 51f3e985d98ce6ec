// The keeper: one small process per server that owns it for its whole life.
//
// The harness starts the keeper (a hidden mode of the pg_unit_tests binary, in a session of its
// own so that Ctrl-C in a terminal does not reach it); the keeper prepares the data directory,
// starts postgres as its own child (which gets SIGQUIT if the keeper dies), reports readiness
// over a pipe, tops up the spare copies, and then waits for one of: its owner's pipe closing (the
// owning process ended, even by SIGKILL), SIGTERM (pg_unit_tests stop), the idle timeout, or the
// postmaster's death. Then it shuts the server down and removes every file it had.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pg_unit_tests::cluster {

struct KeeperSpec {
  std::string id;
  std::filesystem::path directory;  // the server's private directory (created by the keeper)
  std::filesystem::path cache;      // for spares
  std::filesystem::path template_dir;
  std::string template_key;
  std::filesystem::path postgres;  // binary to start (system or overlay)
  std::filesystem::path overlay;   // overlay root in use, if any
  std::string version;
  std::vector<std::string> settings;  // name=value, in order
  bool tcp = false;
  std::string password;
  int idle_timeout = 60;  // seconds; 0 = never
  bool attached = false;  // watch the owner pipe on fd 4
  std::vector<std::string> create;
  int uid = -1;  // switch to this user first (when started by root)
  int gid = -1;
  // A pre-started spare server: it waits in the pool (token cache/pool-<pool_key>-<id>) until a
  // start claims it, or retires after spare_idle seconds unclaimed.
  bool spare = false;
  std::string pool_key;
  int spare_idle = 600;
};

// A claim of a spare server, written by the claimer into <directory>/claim.json before it sends the
// keeper SIGUSR1.
struct Claim {
  int owner_pid = 0;  // watched (pidfd) when attached
  bool attached = false;
  int idle_timeout = 60;
};

void to_json(nlohmann::json& j, const KeeperSpec& s);
void from_json(const nlohmann::json& j, KeeperSpec& s);

// Descriptors of the keeper protocol: spec on stdin, status on fd 3, owner pipe on fd 4.
inline constexpr int kKeeperStatusFd = 3;
inline constexpr int kKeeperOwnerFd = 4;
inline constexpr const char* kKeeperArg = "__keeper";

// Entry point of the keeper mode (`pg_unit_tests __keeper`, spec as JSON on stdin); returns the
// process exit code.
int keeper_main();
// The keeper itself, in a process whose fds 3 (and 4 if attached) are set up; returns the exit
// code.
int keeper_run(const KeeperSpec& spec);

// The pid of the live keeper of a server directory (checked against its start time, so a reused
// pid does not count), or 0.
int live_keeper(const std::filesystem::path& server_directory);

// The pool token of a spare server; a claimer takes it with one unlink(2) (only one can succeed).
std::filesystem::path pool_token(const std::filesystem::path& cache, const std::string& pool_key,
                                 const std::string& id);
inline const char* kPoolPrefix = "pool-";

}  // namespace pg_unit_tests::cluster
