#include "platform/socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "platform/fs.hpp"

namespace pg_unit_tests::platform {

namespace {

bool make_address(const std::filesystem::path& path, sockaddr_un& a) {
  a = {};
  a.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof a.sun_path) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(a.sun_path, path.c_str(), path.native().size() + 1);
  return true;
}

}  // namespace

std::pair<Fd, Fd> socket_pair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw_filesystem_error("create a socket pair", "", errno);
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

Fd listen_unix(const std::filesystem::path& path) {
  // Bound under a temporary name of the same length and renamed into place once it listens: a
  // socket that exists but refuses connections means a dead keeper, whose directory clean-up
  // removes, so it must never be seen between bind(2) and listen(2).
  const std::string name = path.filename().string();
  std::string hidden = "." + random_hex((name.size() + 1) / 2);
  hidden.resize(std::max<size_t>(name.size(), 2));
  const std::filesystem::path tmp = path.parent_path() / hidden;
  sockaddr_un a;
  if (!make_address(tmp, a)) throw_filesystem_error("listen at", path, errno);
  Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s || bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw_filesystem_error("listen at", path, errno);
  }
  if (listen(s.get(), 64) != 0 ||
      renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    const int e = errno;
    unlink(tmp.c_str());
    throw_filesystem_error("listen at", path, e);
  }
  return s;
}

Fd connect_unix(const std::filesystem::path& path) {
  sockaddr_un a;
  if (!make_address(path, a)) return Fd();
  Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return s;
  while (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno != EINTR) return Fd();
  }
  return s;
}

std::optional<PeerCredentials> peer_credentials(int socket_fd) {
  ucred c{};
  socklen_t len = sizeof c;
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return std::nullopt;
  return PeerCredentials{c.pid, c.uid, c.gid};
}

bool send_line(int socket_fd, const std::string& line) {
  const std::string data = line + "\n";
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = send(socket_fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::string> LineReader::next(std::optional<std::chrono::milliseconds> timeout,
                                            size_t limit) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
  for (;;) {
    if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (buffer_.size() > limit) return std::nullopt;
    if (timeout) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(std::max<long long>(left, 0)));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
    }
    char chunk[4096];
    const ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !timeout) {
      pollfd p{fd_, POLLIN, 0};
      poll(&p, 1, -1);
      continue;
    }
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace pg_unit_tests::platform
