// pg_unit_tests-pool: the database pool of one server (see pool/pool.hpp).
//
//   pg_unit_tests-pool SOCKET_DIR PORT     requests on fd 3, from the server's keeper
//
// The keeper starts it as its child, as the server user; it is not meant to be run by hand.
#include <signal.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "cluster/keeper_protocol.hpp"
#include "platform/socket.hpp"
#include "pool/pool.hpp"
#include "pq/conninfo.hpp"

int main(int argc, char** argv) {
  using namespace pg_unit_tests;
  if (argc != 3) {
    std::fprintf(stderr,
                 "pg_unit_tests-pool: the database pool of a pg_unit_tests server; its keeper "
                 "starts it (usage: SOCKET_DIR PORT, requests on fd 3)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  platform::Fd channel(cluster::kLaunchFd);
  const int fd = channel.get();
  try {
    // As a URI: the socket directory may hold any character (quotes, spaces).
    pool::Pool pool(pq::make_uri({{"host", argv[1]}, {"port", argv[2]}, {"user", "postgres"}}),
                    std::move(channel));
    return pool.run();
  } catch (const std::exception& e) {
    // The keeper answers the requests waiting for us with this.
    platform::send_line(fd, nlohmann::json{{"event", "failed"}, {"message", e.what()}}.dump(
                                -1, ' ', false, nlohmann::json::error_handler_t::replace));
    std::fprintf(stderr, "pg_unit_tests-pool: %s\n", e.what());
    return 1;
  }
}
