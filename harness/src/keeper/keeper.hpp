// The keeper's life: its state machine (starting, pooled, owned, stopping) and the one event loop
// that serves keeper.sock. The protocol it speaks is in cluster/keeper_protocol.hpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cluster/keeper_protocol.hpp"
#include "keeper/postgres.hpp"
#include "platform/fd.hpp"
#include "platform/socket.hpp"

namespace pg_unit_tests::keeper {

class Keeper {
 public:
  Keeper(cluster::KeeperSpec spec, platform::Fd launch);
  // Starts the server, answers the launch, serves requests until it is time to stop, stops and
  // removes everything. Returns the process exit code.
  int run();

 private:
  using Clock = std::chrono::steady_clock;

  // Who decides when the server goes (see the protocol file).
  struct Owner {
    enum class Kind { kNobody, kConnection, kProcess } kind = Kind::kNobody;
    int client = -1;       // kConnection: the id of the owning client
    platform::Fd pidfd;    // kProcess
    int idle_timeout = 0;  // kNobody: seconds without a client connection; 0 = never
    std::string describe() const;
  };

  struct Client {
    int id;
    platform::Fd fd;
    std::string input;
    bool wants_stop_reply = false;
  };

  void start();
  void serve();
  void handle(Client& client, const std::string& line);
  void accept_clients();
  bool read_client(Client& client);  // false: EOF or error
  void drop_client(int id);
  void stop(const std::string& why);
  void finish() noexcept;  // shuts postgres down, removes the directory, answers STOP requests
  cluster::Reply harvest() noexcept;  // finish()'s part of a harvest: clean shutdown, rename
  bool own_by(const cluster::Request& terms, int client_id);
  void on_tick();
  cluster::KeeperStatus status() const;
  void publish_spare();
  void launch_replacement() const;
  void launch_refill() const;
  void launch_guardian();
  // The database pool (cluster/keeper_protocol.hpp, DATABASES): started on the first request,
  // which it then answers through us.
  void to_pool(Client& client, cluster::Request request);
  void read_pool();
  void end_pool(const std::string& why);

  cluster::KeeperSpec spec_;
  cluster::KeeperState state_ = cluster::KeeperState::kStarting;
  Owner owner_;
  Postgres postgres_;
  platform::Fd signal_fd_, listener_;
  std::vector<Client> clients_;
  // Beyond this many clients at once, or for a moment after accept(2) ran out of descriptors, new
  // connections wait in the listen backlog (64; past it a client's connect blocks until one
  // leaves): polling a listener we cannot accept from would spin.
  static constexpr size_t kMaxClients = 512;
  Clock::time_point accept_paused_until_{};
  int next_client_id_ = 0;
  bool created_ = false;
  pid_t guardian_ = -1;
  platform::Fd guardian_pipe_;  // its write end; closed when we are done
  Clock::time_point last_busy_, pooled_since_;
  std::optional<Clock::time_point> token_gone_at_;
  std::string stop_reason_;
  pid_t pool_pid_ = -1;
  platform::Fd pool_;
  std::string pool_input_;
  std::vector<int> pool_waiting_;  // clients whose request the pool has not answered yet
  std::vector<DatabaseInfo> databases_;
  int pooled_ = 0;
  // A harvest (see the protocol): what the data directory becomes, and who asked.
  std::string harvest_target_;
  int harvest_client_ = -1;
};

// The guardian's whole job (see Keeper::launch_guardian): returns its exit code.
int guard(const char* directory, const char* token, int pipe_fd, int postmaster_fd);

}  // namespace pg_unit_tests::keeper
