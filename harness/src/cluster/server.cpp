// The Server API: a server owned by an object (Server::start), detached servers, and the commands
// on running servers. Preparing and launching is launch.cpp's job; the keeper does the rest.
#include "pg_unit_tests/server.hpp"

#include <utility>

#include <fmt/format.h>

#include "cluster/keeper_client.hpp"
#include "cluster/launch.hpp"
#include "cluster/layout.hpp"
#include "cluster/run_dir.hpp"
#include "pg_unit_tests/command.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests {

using cluster::Layout;

Server Server::start(const ServerOptions& options) {
  cluster::Started s = cluster::start_server(cluster::prepare_launch(options, true));
  Server server;
  server.info_ = std::move(s.info);
  server.control_fd_ = s.control ? s.control->release().release() : -1;
  server.keeper_child_ = s.keeper_child;
  return server;
}

ServerInfo Server::start_detached(const ServerOptions& options) {
  return cluster::start_server(cluster::prepare_launch(options, false)).info;
}

void Server::stop(const std::string& uri_or_directory) {
  const Layout layout = Layout::locate();
  if (!cluster::stop_server(cluster::locate_server(uri_or_directory, layout), layout)) {
    throw Error(ExitCode::kNoSuchServer,
                fmt::format("no running pg_unit_tests server at '{}'", uri_or_directory));
  }
}

int Server::stop_all() {
  return cluster::stop_all(Layout::locate());
}

std::vector<ServerInfo> Server::list() {
  std::vector<ServerInfo> out;
  for (auto& s : cluster::running_servers(Layout::locate())) {
    if (s.state != cluster::to_string(cluster::KeeperState::kPooled)) {
      out.push_back(std::move(s.info));
    }
  }
  return out;
}

Server::Server(Server&& other) noexcept
    : info_(std::exchange(other.info_, ServerInfo{})),
      control_fd_(std::exchange(other.control_fd_, -1)),
      keeper_child_(std::exchange(other.keeper_child_, -1)) {}

Server& Server::operator=(Server&& other) noexcept {
  if (this != &other) {
    stop();
    info_ = std::exchange(other.info_, ServerInfo{});
    control_fd_ = std::exchange(other.control_fd_, -1);
    keeper_child_ = std::exchange(other.keeper_child_, -1);
  }
  return *this;
}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (control_fd_ >= 0) {
    cluster::KeeperConnection(platform::Fd(std::exchange(control_fd_, -1))).stop();
  }
  if (keeper_child_ > 0) platform::wait_for(std::exchange(keeper_child_, -1));
  info_.keeper_pid = 0;
}

std::vector<std::pair<std::string, std::string>> Server::environment() const {
  return connection_environment(info_.uri);
}

}  // namespace pg_unit_tests
