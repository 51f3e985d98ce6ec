#include "cluster/keeper_client.hpp"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "platform/trace.hpp"

#ifndef PGUT_KEEPER_RELATIVE_DIR
#define PGUT_KEEPER_RELATIVE_DIR "../libexec"
#endif
#ifndef PGUT_KEEPER_INSTALL_DIR
#define PGUT_KEEPER_INSTALL_DIR ""
#endif

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

fs::path keeper_executable() {
  if (const char* env = std::getenv("PG_UNIT_TESTS_KEEPER"); env && *env) {
    if (access(env, X_OK) != 0) {
      throw Error(ExitCode::kInstallation,
                  fmt::format("PG_UNIT_TESTS_KEEPER={} is not an executable: point it at the "
                              "pg_unit_tests-keeper program, or unset it",
                              env));
    }
    return env;
  }
  const fs::path self = platform::self_executable();
  fs::path beside =
      (self.parent_path() / PGUT_KEEPER_RELATIVE_DIR / kKeeperExecutable).lexically_normal();
  if (access(beside.c_str(), X_OK) == 0) return beside;
  fs::path installed = fs::path(PGUT_KEEPER_INSTALL_DIR) / kKeeperExecutable;
  if (*PGUT_KEEPER_INSTALL_DIR && access(installed.c_str(), X_OK) == 0) return installed;
  throw Error(ExitCode::kInstallation,
              fmt::format("the program that runs each server ({}) was not found at {}{}: install "
                          "pg_unit_tests (make install) or set PG_UNIT_TESTS_KEEPER to its path",
                          kKeeperExecutable, beside.string(),
                          *PGUT_KEEPER_INSTALL_DIR ? " or " + installed.string() : ""));
}

std::optional<KeeperConnection> KeeperConnection::connect(const fs::path& server_directory,
                                                          uid_t uid, int* error) {
  platform::Fd fd = platform::connect_unix(server_directory / kKeeperSocket);
  if (!fd) {
    if (error) *error = errno;
    return std::nullopt;
  }
  // Anyone who can write there could listen there; only a keeper of the server user counts.
  const auto peer = platform::peer_credentials(fd.get());
  if (!peer || peer->uid != uid) {
    if (error) *error = EPERM;
    return std::nullopt;
  }
  return KeeperConnection(std::move(fd));
}

std::optional<std::string> KeeperConnection::receive(
    std::optional<std::chrono::milliseconds> timeout) {
  return reader_.next(timeout);
}

Reply KeeperConnection::request(const Request& r,
                                std::optional<std::chrono::milliseconds> timeout) {
  if (!platform::send_line(fd_.get(), encode(r))) {
    throw Error(ExitCode::kNoSuchServer, "the server's keeper is gone");
  }
  const auto line = receive(timeout);
  if (!line) throw Error(ExitCode::kNoSuchServer, "the server's keeper did not answer");
  return decode_reply(*line);
}

void KeeperConnection::stop() {
  if (!fd_) return;
  // The answer comes once postgres has exited and the directory is removed; the connection ends
  // when the keeper itself does.
  if (platform::send_line(fd_.get(), encode(Request{"stop"}))) {
    while (receive(std::nullopt)) {
    }
  }
  fd_.reset();
}

Launched launch_keeper(const KeeperSpec& spec, const std::optional<platform::Credentials>& as) {
  auto [mine, theirs] = platform::socket_pair();
  platform::SpawnSpec s;
  s.argv = {keeper_executable().string(), "serve", spec.directory.string()};
  s.fds.push_back({theirs.get(), kLaunchFd});
  s.new_session = true;  // Ctrl-C in a terminal goes to the foreground group, not to the keeper
  s.detach = !spec.owned;
  s.cwd = "/";
  s.as = as;
  const pid_t pid = platform::spawn(s);
  theirs.reset();
  platform::trace("keeper started");
  KeeperConnection connection(std::move(mine));
  if (!platform::send_line(connection.fd(), encode(spec))) {
    if (spec.owned) platform::wait_for(pid);
    throw Error(ExitCode::kSystem, "the server's keeper ended before it got its specification");
  }
  const auto line = connection.receive(std::nullopt);
  platform::trace("keeper reported");
  if (!line) {
    const int status = spec.owned ? platform::wait_for(pid) : -1;
    throw Error(ExitCode::kSystem,
                fmt::format("the server's keeper ({}) ended without a report{}", s.argv[0],
                            status >= 0 ? fmt::format(" (exit status {})", status) : ""));
  }
  Reply reply = decode_reply(*line);
  if (!reply.ok) {
    if (spec.owned) platform::wait_for(pid);
    reply.check();
  }
  if (!reply.status) throw Error(ExitCode::kSystem, "the server's keeper reported no status");
  return Launched{std::move(*reply.status), std::move(connection), spec.owned ? pid : -1};
}

}  // namespace pg_unit_tests::cluster
