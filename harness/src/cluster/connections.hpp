// Client connections to a server, counted from the kernel's socket tables (/proc/net), so that a
// keeper can apply its idle timeout without connecting itself (a connection of its own would
// count, and would cost a backend).
#pragma once

#include <filesystem>
#include <string>

namespace pg_unit_tests::cluster {

// /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path"; St 03 is connected, and a
// server-side accepted socket carries the listening socket's path.
int count_unix_connections(const std::string& proc_net_unix, const std::string& socket_path);
// /proc/net/tcp and tcp6: established (st 01) connections whose local port is `port`.
int count_tcp_connections(const std::string& proc_net_tcp, int port);

// Both, read from /proc (tcp_port 0: no TCP).
int count_connections(const std::filesystem::path& socket_path, int tcp_port);

}  // namespace pg_unit_tests::cluster
