#include "cluster/connections.hpp"

#include <cstdlib>
#include <sstream>

#include "platform/fs.hpp"

namespace pg_unit_tests::cluster {

int count_unix_connections(const std::string& proc_net_unix, const std::string& socket_path) {
  int n = 0;
  std::istringstream table(proc_net_unix);
  for (std::string line; std::getline(table, line);) {
    std::istringstream fields(line);
    std::string num, ref, proto, flags, type, st, inode, path;
    if (!(fields >> num >> ref >> proto >> flags >> type >> st >> inode)) continue;
    std::getline(fields >> std::ws, path);  // the rest: a path may hold blanks
    if (path == socket_path && st == "03") ++n;
  }
  return n;
}

int count_tcp_connections(const std::string& proc_net_tcp, int port) {
  int n = 0;
  std::istringstream table(proc_net_tcp);
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string sl, local, remote, st;
    if (!(fields >> sl >> local >> remote >> st)) continue;
    const size_t colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    const long local_port = std::strtol(local.c_str() + colon + 1, nullptr, 16);
    if (local_port == port && st == "01") ++n;
  }
  return n;
}

int count_connections(const std::filesystem::path& socket_path, int tcp_port) {
  int n = count_unix_connections(platform::read_file("/proc/net/unix").value_or(""),
                                 socket_path.string());
  if (tcp_port > 0) {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
      n += count_tcp_connections(platform::read_file(table).value_or(""), tcp_port);
    }
  }
  return n;
}

}  // namespace pg_unit_tests::cluster
