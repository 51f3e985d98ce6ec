// Unix stream sockets for the keeper's control channel: listen, connect, peer credentials, and
// newline-terminated messages.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "platform/fd.hpp"

namespace pg_unit_tests::platform {

// A connected pair (socketpair(2)), both ends close-on-exec.
std::pair<Fd, Fd> socket_pair();

// Binds and listens at `path` (which must not exist); the path appears only once the socket
// listens, so it never refuses a connection before it is closed. Throws Error(kFilesystem).
Fd listen_unix(const std::filesystem::path& path);
// Connects to `path`; an invalid Fd with errno set (ENOENT: no socket, ECONNREFUSED: nobody
// listens any more) on failure.
Fd connect_unix(const std::filesystem::path& path);

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
// Who is at the other end (SO_PEERCRED: the process that connected, or that listened).
std::optional<PeerCredentials> peer_credentials(int socket_fd);

// Sends `line` and a newline (MSG_NOSIGNAL: a peer that went away is false, not SIGPIPE).
bool send_line(int socket_fd, const std::string& line);

// Reads newline-terminated messages from a socket, keeping what arrived after a newline for the
// next call.
class LineReader {
 public:
  explicit LineReader(int socket_fd) : fd_(socket_fd) {}
  // The next line without its newline, waiting at most `timeout` (nullopt: no limit); nullopt at
  // EOF, on an error, after the timeout, or for a line longer than `limit`.
  std::optional<std::string> next(std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                                  size_t limit = 1 << 20);

 private:
  int fd_;
  std::string buffer_;
};

}  // namespace pg_unit_tests::platform
