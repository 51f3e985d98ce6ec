#include "keeper/postgres.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cluster/postmaster.hpp"
#include "cluster/template_cache.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "platform/socket.hpp"
#include "platform/trace.hpp"

namespace pg_unit_tests::keeper {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

int random_port() {
  unsigned short r;
  if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    r = static_cast<unsigned short>(getpid());
  }
  return 20000 + r % 40000;
}

bool port_free(int port) {
  platform::Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

void put_int32(std::string& out, uint32_t v) {
  const uint32_t n = htonl(v);
  out.append(reinterpret_cast<const char*>(&n), 4);
}

}  // namespace

Postgres::Postgres(const cluster::KeeperSpec& spec)
    : spec_(spec), data_(spec.directory / "data"), log_(spec.directory / "postgres.log") {}

fs::path Postgres::socket_path() const {
  return spec_.directory / fmt::format(".s.PGSQL.{}", port_);
}

void Postgres::prepare_data_directory() {
  const auto cache = platform::Dir::open(spec_.cache);
  if (!cache || !cluster::claim_spare(*cache, spec_.template_key, data_)) {
    platform::copy_tree(spec_.template_dir, data_);
  }
  platform::trace("keeper: data directory ready");
}

void Postgres::start(int signal_fd) {
  for (int attempt = 0;; ++attempt) {
    port_ = 5432;
    if (spec_.tcp) {
      do {
        port_ = random_port();
      } while (!port_free(port_));
    }
    if (launch(signal_fd)) return;
    if (attempt >= 20) {
      throw Error(ExitCode::kServerStart, "no free TCP port found on 127.0.0.1 after 20 tries");
    }
  }
}

bool Postgres::launch(int signal_fd) {
  platform::Fd log(open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log) platform::throw_filesystem_error("create", log_, errno);
  platform::SpawnSpec s;
  s.argv = {spec_.postgres.string(),
            "-D",
            data_.string(),
            "-c",
            "unix_socket_directories=" + spec_.directory.string(),
            "-c",
            fmt::format("port={}", port_),
            "-c",
            std::string("listen_addresses=") + (spec_.tcp ? "127.0.0.1" : "")};
  for (const auto& setting : spec_.settings) {
    s.argv.push_back("-c");
    s.argv.push_back(setting);
  }
  s.stdout_fd = log.get();
  s.stderr_fd = log.get();
  s.parent_death_signal = SIGQUIT;  // if the keeper dies, the server goes too
  s.cwd = "/";
  // The server must not see our locale settings (lc_messages etc. come from the template). Its
  // libpq environment points at itself, as pg_regress's temporary instance does, so that a backend
  // that connects to its own server (dblink, postgres_fdw's loopback) reaches this one.
  s.env = {{"LC_ALL", ""},
           {"PGOPTIONS", ""},
           {"PGHOST", spec_.directory.string()},
           {"PGPORT", std::to_string(port_)},
           {"PGUSER", "postgres"},
           {"PGHOSTADDR", ""},
           {"PGSERVICE", ""},
           {"PGDATABASE", ""},
           {"PGPASSWORD", ""}};
  try {
    pid_ = platform::spawn(s);
  } catch (const Error& e) {
    throw Error(ExitCode::kInstallation, e.what());
  }
  platform::trace("keeper: postgres spawned");
  const auto deadline = Clock::now() + 120s;
  auto pause = 100us;
  for (;;) {
    if (exited()) {
      const std::string why = cluster::log_complaint(platform::read_file(log_).value_or(""));
      if (spec_.tcp && why.find("could not create any TCP/IP sockets") != std::string::npos) {
        return false;
      }
      throw Error(ExitCode::kServerStart, fmt::format("the server did not start: {}", why));
    }
    if (auto text = platform::read_file(data_ / "postmaster.pid")) {
      if (auto pid_file = cluster::parse_pid_file(*text); pid_file && pid_file->ready()) break;
    }
    if (Clock::now() > deadline) {
      throw Error(ExitCode::kServerStart,
                  fmt::format("the server did not become ready in 120 s (see {})", log_.string()));
    }
    // Drain SIGCHLD notifications; exited() above is what counts.
    signalfd_siginfo si;
    while (read(signal_fd, &si, sizeof si) == sizeof si) {
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, 1ms);
  }
  platform::trace("keeper: postgres ready");
  return true;
}

// The keeper links no libpq (loading it and its TLS, Kerberos and LDAP libraries would cost every
// start milliseconds), so it speaks the few protocol messages this needs itself: StartupMessage,
// messages up to ReadyForQuery, Terminate.
void Postgres::warm_up() const {
  platform::Fd s = platform::connect_unix(socket_path());
  if (!s) return;
  std::string body;
  put_int32(body, 196608);  // protocol 3.0
  for (const char* p : {"user", "postgres", "database", "postgres"}) body.append(p).push_back('\0');
  body.push_back('\0');
  std::string startup;
  put_int32(startup, static_cast<uint32_t>(body.size() + 4));
  startup += body;
  if (!platform::write_all(s.get(), startup)) return;
  // Each message: a type byte and a length that counts itself; 'Z' is ReadyForQuery, 'E' an error.
  for (;;) {
    char header[5];
    size_t got = 0;
    while (got < sizeof header) {
      const ssize_t n = read(s.get(), header + got, sizeof header - got);
      if (n <= 0) return;
      got += static_cast<size_t>(n);
    }
    uint32_t length;
    std::memcpy(&length, header + 1, 4);
    length = ntohl(length);
    if (length < 4 || length > (1u << 20)) return;
    std::string skip(length - 4, '\0');
    for (size_t off = 0; off < skip.size();) {
      const ssize_t n = read(s.get(), skip.data() + off, skip.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
    if (header[0] == 'E') return;
    if (header[0] == 'Z') break;
  }
  std::string terminate = "X";
  put_int32(terminate, 4);
  platform::write_all(s.get(), terminate);
}

bool Postgres::shutdown_cleanly(std::chrono::seconds limit) noexcept {
  if (pid_ <= 0) return false;
  kill(pid_, SIGINT);
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (const auto status = platform::try_wait(pid_)) {
      pid_ = -1;
      return *status == 0;
    }
    std::this_thread::sleep_for(1ms);
  }
  shutdown();
  return false;
}

bool Postgres::exited() {
  if (pid_ <= 0) return true;
  if (platform::try_wait(pid_)) {
    pid_ = -1;
    return true;
  }
  return false;
}

void Postgres::shutdown() noexcept {
  if (pid_ <= 0) return;
  kill(pid_, SIGQUIT);
  const auto deadline = Clock::now() + 5s;
  while (!exited() && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  if (pid_ > 0) {
    // It did not exit: kill it, and remove the System V segment it can no longer remove.
    const auto text = platform::read_file(data_ / "postmaster.pid");
    const auto pid_file = text ? cluster::parse_pid_file(*text) : std::nullopt;
    kill(pid_, SIGKILL);
    platform::wait_for(pid_);
    pid_ = -1;
    if (pid_file && pid_file->shmem_id >= 0) shmctl(pid_file->shmem_id, IPC_RMID, nullptr);
  }
}

}  // namespace pg_unit_tests::keeper
