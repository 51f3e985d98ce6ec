#include "cluster/keeper.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <chrono>
#include <optional>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "cluster/cache.hpp"
#include "cluster/connections.hpp"
#include "cluster/layout.hpp"
#include "cluster/postmaster.hpp"
#include "cluster/server_state.hpp"
#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "platform/trace.hpp"

namespace pg_unit_tests::cluster {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void to_json(nlohmann::json& j, const KeeperSpec& s) {
  j = {{"id", s.id},
       {"directory", s.directory.string()},
       {"cache", s.cache.string()},
       {"template_dir", s.template_dir.string()},
       {"template_key", s.template_key},
       {"postgres", s.postgres.string()},
       {"overlay", s.overlay.string()},
       {"version", s.version},
       {"settings", s.settings},
       {"tcp", s.tcp},
       {"password", s.password},
       {"idle_timeout", s.idle_timeout},
       {"attached", s.attached},
       {"create", s.create},
       {"uid", s.uid},
       {"gid", s.gid},
       {"spare", s.spare},
       {"pool_key", s.pool_key},
       {"spare_idle", s.spare_idle}};
}

void from_json(const nlohmann::json& j, KeeperSpec& s) {
  s.id = j.at("id").get<std::string>();
  s.directory = j.at("directory").get<std::string>();
  s.cache = j.at("cache").get<std::string>();
  s.template_dir = j.at("template_dir").get<std::string>();
  s.template_key = j.at("template_key").get<std::string>();
  s.postgres = j.at("postgres").get<std::string>();
  s.overlay = j.value("overlay", "");
  s.version = j.value("version", "");
  s.settings = j.at("settings").get<std::vector<std::string>>();
  s.tcp = j.value("tcp", false);
  s.password = j.value("password", "");
  s.idle_timeout = j.value("idle_timeout", 60);
  s.attached = j.value("attached", false);
  s.create = j.value("create", std::vector<std::string>{});
  s.uid = j.value("uid", -1);
  s.gid = j.value("gid", -1);
  s.spare = j.value("spare", false);
  s.pool_key = j.value("pool_key", "");
  s.spare_idle = j.value("spare_idle", 600);
}

std::filesystem::path pool_token(const std::filesystem::path& cache, const std::string& pool_key,
                                 const std::string& id) {
  return cache / fmt::format("{}{}-{}", kPoolPrefix, pool_key, id);
}

namespace {

struct StartFailure {
  ExitCode code;
  std::string message;
};

// Sends the one-line report to whoever started us; false if nobody is listening any more.
bool report(const nlohmann::json& j) {
  const std::string line = j.dump() + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(kKeeperStatusFd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(kKeeperStatusFd);
  return off == line.size();
}

int random_port() {
  unsigned short r;
  if (getentropy(&r, sizeof r) != 0) r = static_cast<unsigned short>(getpid());
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

class Keeper {
 public:
  explicit Keeper(KeeperSpec spec) : spec_(std::move(spec)) {
    data_ = spec_.directory / "data";
    log_ = spec_.directory / "postgres.log";
  }

  // Prepares and starts the server; throws StartFailure.
  ServerState start(int signal_fd) {
    if (mkdir(spec_.directory.c_str(), 0700) != 0) {
      throw StartFailure{
          ExitCode::kFilesystem,
          fmt::format("could not create {}: {}", spec_.directory.string(), std::strerror(errno))};
    }
    created_ = true;
    platform::write_file_atomic(
        spec_.directory / "keeper.pid",
        fmt::format("{} {}\n", getpid(), platform::process_start_time(getpid())));
    // Our stderr goes to keeper.log, for PG_UNIT_TESTS_TRACE and for failures after the report.
    const platform::Fd log(open((spec_.directory / "keeper.log").c_str(),
                                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (log) dup2(log.get(), 2);
    platform::trace("keeper: directory created");
    {
      // Prefer a spare copy (one rename); copy the template if none is left.
      Layout layout;
      layout.cache = spec_.cache;
      if (!claim_spare(layout, spec_.template_key, data_)) {
        try {
          platform::copy_tree(spec_.template_dir, data_);
        } catch (const Error& e) {
          throw StartFailure{e.code(), e.what()};
        }
      }
    }
    platform::trace("keeper: data directory ready");
    for (int attempt = 0;; ++attempt) {
      port_ = 5432;
      if (spec_.tcp) {
        do {
          port_ = random_port();
        } while (!port_free(port_));
      }
      if (launch(signal_fd)) break;
      if (attempt >= 20) {
        throw StartFailure{ExitCode::kServerStart,
                           "no free TCP port found on 127.0.0.1 after 20 tries"};
      }
    }
    platform::trace("keeper: postgres ready");
    if (spec_.tcp || !spec_.create.empty()) configure();
    return state();
  }

  // Waits until it is time to stop; reaps the spare-copying child `helper` on the way.
  void watch(int signal_fd, pid_t helper) {
    bool spare = spec_.spare;
    bool attached = spec_.attached;
    int idle_timeout = spec_.idle_timeout;
    platform::Fd owner_pidfd;  // the claimer of a spare, when it owns the server
    const auto socket_path = spec_.directory / fmt::format(".s.PGSQL.{}", port_);
    auto last_busy = Clock::now();
    const auto ready_at = Clock::now();
    std::optional<Clock::time_point> token_gone_at;
    for (;;) {
      const bool idle_watch = !spare && !attached && idle_timeout > 0;
      std::vector<pollfd> fds = {{signal_fd, POLLIN, 0}};
      if (attached && !owner_pidfd && spec_.attached) fds.push_back({kKeeperOwnerFd, POLLIN, 0});
      if (owner_pidfd) fds.push_back({owner_pidfd.get(), POLLIN, 0});
      const int interval_ms =
          spare        ? 1000
          : idle_watch ? static_cast<int>(std::clamp<long>(idle_timeout * 100L, 100L, 1000L))
                       : -1;
      const int r = poll(fds.data(), fds.size(), interval_ms);
      if (r < 0 && errno != EINTR) return;
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo si;
        while (read(signal_fd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGCHLD) {
            if (helper > 0 && platform::try_wait(helper)) helper = -1;
            if (auto status = platform::try_wait(postmaster_)) {
              postmaster_ = -1;
              return;  // the server died or was stopped behind our back
            }
          } else if (si.ssi_signo == SIGUSR1 && spare) {
            // Claimed: take the claimer's terms, and put a new spare in the pool in our place.
            auto claim = read_claim();
            if (!claim) continue;
            spare = false;
            attached = claim->attached;
            idle_timeout = claim->idle_timeout;
            last_busy = Clock::now();
            if (attached) {
              owner_pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, claim->owner_pid, 0)));
              if (!owner_pidfd) return;  // the claimer is already gone
            }
            ServerState st = state();
            st.attached = attached;
            st.idle_timeout = attached ? 0 : idle_timeout;
            st.spare = false;
            try {
              write_state(st);
            } catch (...) {
              // server.json is informative; the server works without it.
            }
            spawn_replacement();
          } else if (si.ssi_signo != SIGUSR1) {
            return;  // SIGTERM, SIGINT, SIGHUP: stop
          }
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents) return;  // the owner is gone
      }
      // Someone removed the server's directory (rm -rf of the base): nothing can use it any more.
      if (access(spec_.directory.c_str(), F_OK) != 0 && errno == ENOENT) return;
      if (spare) {
        const auto token = pool_token(spec_.cache, spec_.pool_key, spec_.id);
        if (access(token.c_str(), F_OK) != 0) {
          // The token is gone: a claimer took it and its claim.json and SIGUSR1 follow at once.
          // If they do not come (the claimer died, or the cache was deleted), retire.
          if (!token_gone_at) token_gone_at = Clock::now();
          if (Clock::now() - *token_gone_at > 10s) return;
        } else if (Clock::now() - ready_at >= std::chrono::seconds(spec_.spare_idle) &&
                   unlink(token.c_str()) == 0) {
          return;  // retired unclaimed; a claimer racing with us lost the unlink
        }
      }
      if (idle_watch) {
        if (count_connections(socket_path, spec_.tcp ? port_ : 0) > 0) {
          last_busy = Clock::now();
        } else if (Clock::now() - last_busy >= std::chrono::seconds(idle_timeout)) {
          return;
        }
      }
    }
  }

  // One connection, so that the server's relation-cache init files exist: the claimer's first
  // connection then starts in about half the time. Only for spares, whose start is off the
  // critical path.
  void warm_up() const {
    const std::string conninfo = fmt::format("host={} port={} user=postgres dbname=postgres",
                                             spec_.directory.string(), port_);
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) == CONNECTION_OK) PQclear(PQexec(conn, "SELECT 1"));
    PQfinish(conn);
  }

  // Makes this server claimable: the pool token appears once the server is ready.
  void publish_spare() {
    const auto token = pool_token(spec_.cache, spec_.pool_key, spec_.id);
    platform::Fd fd(open(token.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  }

  // Removes our pool token if it is still there (on shutdown of an unclaimed spare).
  void withdraw_spare() noexcept {
    if (spec_.spare) unlink(pool_token(spec_.cache, spec_.pool_key, spec_.id).c_str());
  }

  // Stops the server (immediate shutdown: the data is thrown away) and removes every file.
  void shutdown() noexcept {
    if (postmaster_ > 0) {
      kill(postmaster_, SIGQUIT);
      const auto deadline = Clock::now() + 5s;
      std::optional<int> status;
      while (!(status = platform::try_wait(postmaster_)) && Clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
      if (!status) {
        // It did not exit: kill it, and remove the System V segment it can no longer remove.
        const auto shm = shmem_id();
        kill(postmaster_, SIGKILL);
        platform::wait_for(postmaster_);
        if (shm >= 0) shmctl(shm, IPC_RMID, nullptr);
      }
      postmaster_ = -1;
    }
    if (created_) platform::remove_tree(spec_.directory);
    created_ = false;
  }

 private:
  // Starts postgres; false if the TCP port turned out to be taken (try another).
  bool launch(int signal_fd) {
    platform::Fd log(open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!log) {
      throw StartFailure{ExitCode::kFilesystem, fmt::format("could not create {}: {}",
                                                            log_.string(), std::strerror(errno))};
    }
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
    // The server must not see our locale settings (lc_messages etc. come from the template).
    s.env = {{"LC_ALL", ""}, {"PGOPTIONS", ""}};
    try {
      postmaster_ = platform::spawn(s);
      platform::trace("keeper: postgres spawned");
    } catch (const Error& e) {
      throw StartFailure{ExitCode::kInstallation, e.what()};
    }
    const auto pid_file = data_ / "postmaster.pid";
    const auto deadline = Clock::now() + 120s;
    auto pause = 100us;
    for (;;) {
      if (auto status = platform::try_wait(postmaster_)) {
        postmaster_ = -1;
        const std::string why = log_complaint(platform::read_file(log_).value_or(""));
        if (spec_.tcp && why.find("could not create any TCP/IP sockets") != std::string::npos) {
          return false;
        }
        throw StartFailure{ExitCode::kServerStart,
                           fmt::format("the server did not start: {}", why)};
      }
      if (auto text = platform::read_file(pid_file)) {
        if (auto pid_file_now = parse_pid_file(*text); pid_file_now && pid_file_now->ready()) break;
      }
      if (Clock::now() > deadline) {
        throw StartFailure{
            ExitCode::kServerStart,
            fmt::format("the server did not become ready in 120 s (see {})", log_.string())};
      }
      // Drain SIGCHLD notifications; the try_wait above is what counts.
      signalfd_siginfo si;
      while (read(signal_fd, &si, sizeof si) == sizeof si) {
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, 1ms);
    }
    return true;
  }

  // Sets the TCP password and creates the requested extensions, over the socket.
  void configure() {
    const std::string conninfo = fmt::format("host={} port={} user=postgres dbname=postgres",
                                             spec_.directory.string(), port_);
    PGconn* conn = PQconnectdb(conninfo.c_str());
    struct Closer {
      PGconn* c;
      ~Closer() { PQfinish(c); }
    } closer{conn};
    if (PQstatus(conn) != CONNECTION_OK) {
      throw StartFailure{
          ExitCode::kServerStart,
          fmt::format("could not connect to the new server: {}", PQerrorMessage(conn))};
    }
    auto exec = [&](const std::string& sql, ExitCode code, const std::string& what) {
      PGresult* res = PQexec(conn, sql.c_str());
      const bool ok =
          PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
      std::string err = ok ? "" : PQresultErrorMessage(res);
      PQclear(res);
      while (!err.empty() && err.back() == '\n') err.pop_back();
      if (!ok) throw StartFailure{code, fmt::format("{}: {}", what, err)};
    };
    if (spec_.tcp) {
      // The password is hex, so it needs no quoting; it is hashed with SCRAM before storage.
      exec(fmt::format("ALTER ROLE postgres PASSWORD '{}'", spec_.password), ExitCode::kServerStart,
           "could not set the password");
    }
    for (const auto& name : spec_.create) {
      char* ident = PQescapeIdentifier(conn, name.c_str(), name.size());
      const std::string sql =
          fmt::format("CREATE EXTENSION IF NOT EXISTS {} CASCADE", ident ? ident : name);
      PQfreemem(ident);
      exec(sql, ExitCode::kExtension, fmt::format("CREATE EXTENSION {} failed", name));
    }
  }

  ServerState state() const {
    ServerState st;
    st.info.id = spec_.id;
    st.info.directory = spec_.directory;
    st.info.data_directory = data_;
    st.info.socket_directory = spec_.directory;
    st.info.port = port_;
    st.info.user = "postgres";
    st.info.database = "postgres";
    st.info.pid = postmaster_;
    st.info.keeper_pid = getpid();
    st.info.version = spec_.version;
    if (spec_.tcp) {
      st.info.host = "127.0.0.1";
      st.info.password = spec_.password;
    } else {
      st.info.host = spec_.directory.string();
    }
    st.info.uri = make_uri(st.info);
    st.overlay = spec_.overlay;
    st.idle_timeout = spec_.attached ? 0 : spec_.idle_timeout;
    st.attached = spec_.attached;
    return st;
  }

  std::optional<Claim> read_claim() const {
    auto text = platform::read_file(spec_.directory / "claim.json");
    if (!text) return std::nullopt;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    Claim c;
    c.owner_pid = j.value("owner_pid", 0);
    c.attached = j.value("attached", false);
    c.idle_timeout = j.value("idle_timeout", 60);
    return c;
  }

  // Starts a new spare keeper (a forked child that lives on its own) with a new identity.
  void spawn_replacement() const {
    KeeperSpec next = spec_;
    next.id = platform::random_hex(5);
    next.directory = spec_.directory.parent_path() / next.id;
    next.uid = next.gid = -1;  // we already are the server user
    const pid_t pid = fork();
    if (pid != 0) return;
    setsid();
    close_range(3, ~0U, 0);
    const int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, kKeeperStatusFd);  // nobody waits for this one's report
    dup2(devnull, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    _exit(keeper_run(next));
  }

  int shmem_id() const {
    auto text = platform::read_file(data_ / "postmaster.pid");
    auto pid_file = text ? parse_pid_file(*text) : std::nullopt;
    return pid_file ? pid_file->shmem_id : -1;
  }

  KeeperSpec spec_;
  std::filesystem::path data_, log_;
  pid_t postmaster_ = -1;
  int port_ = 5432;
  bool created_ = false;
};

}  // namespace

int live_keeper(const std::filesystem::path& server_directory) {
  auto text = platform::read_file(server_directory / "keeper.pid");
  if (!text) return 0;
  std::istringstream in(*text);
  int pid = 0;
  unsigned long long started = 0;
  in >> pid >> started;
  if (pid <= 0 || !platform::process_alive(pid)) return 0;
  // Without a start time (older keepers), trust the pid.
  return started == 0 || platform::process_start_time(pid) == started ? pid : 0;
}

int keeper_main() {
  platform::trace("keeper: main");
  const std::string input = platform::read_all(0);
  KeeperSpec spec;
  try {
    spec = nlohmann::json::parse(input).get<KeeperSpec>();
  } catch (const std::exception& e) {
    report({{"ok", false},
            {"code", static_cast<int>(ExitCode::kSystem)},
            {"message", fmt::format("keeper: bad specification: {}", e.what())}});
    return 1;
  }
  return keeper_run(spec);
}

int keeper_run(const KeeperSpec& spec) {
  // Our children (postgres) must not hold the status or owner pipe.
  fcntl(kKeeperStatusFd, F_SETFD, FD_CLOEXEC);
  fcntl(kKeeperOwnerFd, F_SETFD, FD_CLOEXEC);
  prctl(PR_SET_NAME, "pgut-keeper");
  if (spec.uid >= 0 && geteuid() == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(spec.gid)) != 0 ||
        setuid(static_cast<uid_t>(spec.uid)) != 0) {
      report({{"ok", false},
              {"code", static_cast<int>(ExitCode::kSystem)},
              {"message", fmt::format("keeper: could not switch to uid {}: {}", spec.uid,
                                      std::strerror(errno))}});
      return 1;
    }
  }
  if (chdir("/") != 0) {
    // Not fatal: every path the keeper uses is absolute.
  }
  umask(077);
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  platform::Fd sfd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));

  Keeper keeper(spec);
  try {
    ServerState st = keeper.start(sfd.get());
    st.spare = spec.spare;
    write_state(st);
    if (spec.spare) {
      keeper.warm_up();
      keeper.publish_spare();
    }
    if (!report({{"ok", true}, {"info", nlohmann::json::parse(st.info.to_json())}}) &&
        !spec.spare) {
      keeper.shutdown();  // nobody is there to hand the server to
      return 1;
    }
  } catch (const StartFailure& f) {
    keeper.shutdown();
    report({{"ok", false}, {"code", static_cast<int>(f.code)}, {"message", f.message}});
    return 1;
  } catch (const std::exception& e) {
    keeper.shutdown();
    report({{"ok", false}, {"code", static_cast<int>(ExitCode::kSystem)}, {"message", e.what()}});
    return 1;
  }
  // Off the critical path now: prepare the next start's data directory in a child process at low
  // priority, so that the keeper stays free to stop the server at once.
  const pid_t refill = fork();
  if (refill == 0) {
    if (setpriority(PRIO_PROCESS, 0, 10) != 0) {
      // Only a courtesy to the test that got this server.
    }
    int code = 0;
    try {
      Layout layout;
      layout.cache = spec.cache;
      refill_spares(layout, Template{spec.template_key, spec.template_dir});
    } catch (...) {
      code = 1;  // a missing spare only makes the next start copy the template itself
    }
    _exit(code);
  }
  keeper.watch(sfd.get(), refill);
  keeper.withdraw_spare();
  keeper.shutdown();
  return 0;
}

}  // namespace pg_unit_tests::cluster
