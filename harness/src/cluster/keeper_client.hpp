// The harness's side of the keeper protocol (cluster/keeper_protocol.hpp): where the keeper
// program is, how a keeper is launched, and how to talk to a running one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "cluster/keeper_protocol.hpp"
#include "cluster/layout.hpp"
#include "platform/fd.hpp"
#include "platform/process.hpp"
#include "platform/fs.hpp"
#include "platform/socket.hpp"

namespace pg_unit_tests::cluster {

// The keeper program: $PG_UNIT_TESTS_KEEPER if set; else next to this program, where the build
// tree and the install tree both put it (<bindir>/PGUT_KEEPER_RELATIVE_DIR/pg_unit_tests-keeper,
// "../libexec" by default); else in the install prefix's libexec directory. Throws
// Error(kInstallation) naming the setting.
std::filesystem::path keeper_executable();

// The keeper program as the layout's server user can run it: keeper_executable() itself, or,
// when root hands servers to that user, a checked copy in build/ (keeper_client.cpp says why),
// whose directory lock `hold` then holds shared: keep it until the keeper started from the copy
// holds its own. Throws Error(kInstallation) or Error(kFilesystem).
std::filesystem::path keeper_program(const Layout& layout, platform::FileLock* hold = nullptr);

// Removes the keeper copies other than `keep` that no program runs from (each holds its copy's
// directory lock shared: the keeper's main(), and the start that chose it through `hold` of
// keeper_program()) and, with `grace`, that no start chose in the last minute; returns their
// names.
std::vector<std::string> collect_keeper_copies(const Layout& layout, const std::string& keep,
                                               bool grace);

// A connection to a keeper: its launch connection or one to its keeper.sock.
class KeeperConnection {
 public:
  explicit KeeperConnection(platform::Fd fd) : fd_(std::move(fd)), reader_(fd_.get()) {}

  // Connects to DIR/keeper.sock and checks that the keeper runs as `uid` (SO_PEERCRED). nullopt
  // if no keeper of that user answers there; `error` (if given) gets the errno of the connect
  // (ENOENT: no socket yet or any more, ECONNREFUSED: the keeper is gone).
  static std::optional<KeeperConnection> connect(const std::filesystem::path& server_directory,
                                                 uid_t uid, int* error = nullptr);

  // Sends the request and waits for the reply (nullopt: no limit). A keeper that went away
  // without answering is Error(kNoSuchServer).
  Reply request(const Request& request,
                std::optional<std::chrono::milliseconds> timeout = std::chrono::seconds(60));
  // The next line the keeper sends (the launch report).
  std::optional<std::string> receive(std::optional<std::chrono::milliseconds> timeout);
  // Asks the keeper to stop and waits until it has (its directory gone), then for its exit.
  void stop();

  int fd() const { return fd_.get(); }
  platform::Fd release() { return std::move(fd_); }

 private:
  platform::Fd fd_;
  platform::LineReader reader_;
};

struct Launched {
  KeeperStatus status;
  KeeperConnection connection;  // the launch connection (the owner's, when spec.owned)
  pid_t child = -1;             // the keeper, when it is our child (spec.owned); else -1
};

// Starts the keeper `program` (keeper_program()) for `spec` (as `as`, when root hands the server
// to the server user) and waits for its report. Throws the Error the keeper reported, or
// Error(kSystem) if it ended without one.
Launched launch_keeper(const KeeperSpec& spec, const std::optional<platform::Credentials>& as,
                       const std::filesystem::path& program);

}  // namespace pg_unit_tests::cluster
