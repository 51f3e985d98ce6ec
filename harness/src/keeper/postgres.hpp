// The keeper's postgres: its data directory, its start (straight on the data directory, no
// pg_ctl), the wait until it accepts connections, and its immediate shutdown.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/keeper_protocol.hpp"

namespace pg_unit_tests::keeper {

namespace fs = std::filesystem;

class Postgres {
 public:
  explicit Postgres(const cluster::KeeperSpec& spec);
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;
  ~Postgres() { shutdown(); }

  // A data directory of its own: a spare copy of the template (one rename), else a copy.
  void prepare_data_directory();
  // Starts postgres and waits until it accepts connections, draining `signal_fd` (SIGCHLD)
  // meanwhile. Picks a free TCP port on 127.0.0.1 when asked. Throws Error (kServerStart with the
  // server's own complaint).
  void start(int signal_fd);
  // One connection and a clean goodbye, so that the relation-cache init files exist: the first
  // connection of whoever claims this (spare) server then starts in about half the time.
  void warm_up() const;
  // Immediate shutdown (SIGQUIT: the data is thrown away anyway); SIGKILL after 5 s, and the
  // System V segment that a killed postmaster cannot remove. Safe to call twice.
  void shutdown() noexcept;
  // Fast shutdown (SIGINT: a shutdown checkpoint, the data directory left consistent, as a
  // template must be). True if postgres exited cleanly within `limit`; else it is shut down
  // immediately and false.
  bool shutdown_cleanly(std::chrono::seconds limit) noexcept;

  // True (and reaped) once the postmaster has exited.
  bool exited();
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  fs::path socket_path() const;
  const fs::path& data_directory() const { return data_; }

 private:
  bool launch(int signal_fd);  // false: the TCP port was taken meanwhile

  const cluster::KeeperSpec& spec_;
  fs::path data_, log_;
  pid_t pid_ = -1;
  int port_ = 5432;
};

}  // namespace pg_unit_tests::keeper
