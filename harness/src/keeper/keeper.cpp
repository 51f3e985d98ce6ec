// Over 400 lines on purpose: the state machine, its event loop and the guardian all work on the
// keeper's state (keeper.hpp); split, each part would need the others to be read.
#include "keeper/keeper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "cluster/connections.hpp"
#include "cluster/template_cache.hpp"
#include "platform/dir.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "platform/trace.hpp"

namespace pg_unit_tests::keeper {

using cluster::KeeperState;
using cluster::Reply;
using cluster::Request;

namespace {

// execve("/proc/self/exe") starts this very program even if its file was replaced meanwhile (a
// rebuild while servers run).
constexpr const char* kSelf = "/proc/self/exe";

platform::Fd pidfd_of(int pid) {
  return platform::Fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

}  // namespace

std::string Keeper::Owner::describe() const {
  switch (kind) {
    case Kind::kConnection:
      return "connection";
    case Kind::kProcess:
      return "process";
    case Kind::kNobody:
      return idle_timeout > 0 ? fmt::format("nobody (idle timeout {} s)", idle_timeout)
                              : "nobody (until stopped)";
  }
  return "";
}

Keeper::Keeper(cluster::KeeperSpec spec, platform::Fd launch)
    : spec_(std::move(spec)), postgres_(spec_) {
  fcntl(launch.get(), F_SETFL, fcntl(launch.get(), F_GETFL) | O_NONBLOCK);
  clients_.push_back(Client{next_client_id_++, std::move(launch), {}, false});
}

int Keeper::run() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));

  Reply report;
  try {
    start();
    report = Reply::success(status());
  } catch (const Error& e) {
    report = Reply::failure(e.code(), e.what());
  } catch (const std::exception& e) {
    report = Reply::failure(ExitCode::kSystem, e.what());
  }
  if (report.ok) launch_guardian();
  const bool delivered = platform::send_line(clients_.front().fd.get(), cluster::encode(report));
  if (!report.ok || (!delivered && !spec_.spare)) {
    // Failed, or nobody is there any more to hand the server to.
    finish();
    return 1;
  }
  platform::trace("keeper: reported");
  launch_refill();
  serve();
  finish();
  return 0;
}

void Keeper::start() {
  if (mkdir(spec_.directory.c_str(), 0700) != 0) {
    platform::throw_filesystem_error("create", spec_.directory, errno);
  }
  created_ = true;
  listener_ = platform::listen_unix(spec_.directory / cluster::kKeeperSocket);
  // Our stderr goes to keeper.log, for PG_UNIT_TESTS_TRACE and for failures after the report.
  const platform::Fd log(open((spec_.directory / "keeper.log").c_str(),
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (log) dup2(log.get(), 2);
  platform::trace("keeper: directory created");
  // A pre-started spare is not made while `cache clear` runs (it would refill the pool that clear
  // empties); a start's keeper needs no lock of its own: its starter holds one.
  platform::FileLock cache_lock;
  if (spec_.spare) {
    if (auto cache = platform::Dir::open(spec_.cache)) {
      cache_lock = platform::FileLock::try_shared(*cache, cluster::kCacheLock);
    }
    if (!cache_lock.held()) throw Error(ExitCode::kFilesystem, "the cache is being cleared");
  }
  postgres_.prepare_data_directory();
  postgres_.start(signal_fd_.get());
  if (spec_.spare) {
    postgres_.warm_up();
    publish_spare();
    state_ = KeeperState::kPooled;
    pooled_since_ = Clock::now();
  } else {
    Request terms;
    terms.owned = spec_.owned;
    terms.owner_pid = spec_.owner_pid;
    terms.idle_timeout = spec_.idle_timeout;
    if (!own_by(terms, clients_.front().id)) {
      throw Error(ExitCode::kUsage,
                  fmt::format("the owner process {} is not running", spec_.owner_pid));
    }
  }
}

bool Keeper::own_by(const Request& terms, int client_id) {
  Owner owner;
  if (terms.owner_pid > 0) {
    owner.kind = Owner::Kind::kProcess;
    owner.pidfd = pidfd_of(terms.owner_pid);
    if (!owner.pidfd) return false;
  } else if (terms.owned) {
    owner.kind = Owner::Kind::kConnection;
    owner.client = client_id;
  } else {
    owner.idle_timeout = std::max(0, terms.idle_timeout);
  }
  owner_ = std::move(owner);
  state_ = KeeperState::kOwned;
  last_busy_ = Clock::now();
  return true;
}

void Keeper::serve() {
  while (state_ != KeeperState::kStopping) {
    const bool paused = Clock::now() < accept_paused_until_;
    const bool accepting = clients_.size() < kMaxClients && !paused;
    // (poll ignores a negative descriptor: the listener keeps its index)
    std::vector<pollfd> fds = {{signal_fd_.get(), POLLIN, 0},
                               {accepting ? listener_.get() : -1, POLLIN, 0}};
    if (owner_.pidfd) fds.push_back({owner_.pidfd.get(), POLLIN, 0});
    const size_t pool_index = fds.size();
    if (pool_) fds.push_back({pool_.get(), POLLIN, 0});
    const size_t first_client = fds.size();
    std::vector<int> ids;
    for (const auto& c : clients_) {
      fds.push_back({c.fd.get(), POLLIN, 0});
      ids.push_back(c.id);
    }
    const bool idle_watch = state_ == KeeperState::kOwned && owner_.kind == Owner::Kind::kNobody &&
                            owner_.idle_timeout > 0;
    int interval_ms =
        idle_watch ? static_cast<int>(std::clamp<long>(owner_.idle_timeout * 100L, 100L, 1000L))
                   : 1000;
    if (paused) interval_ms = 100;  // to take the listener back soon
    if (poll(fds.data(), fds.size(), interval_ms) < 0 && errno != EINTR) {
      stop("poll failed");
      break;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD) {
          stop(fmt::format("signal {}", si.ssi_signo));
        }
      }
      if (postgres_.exited()) stop("the server exited");
    }
    if (fds[1].revents & POLLIN) accept_clients();
    if (owner_.pidfd && fds[2].revents) stop("the owner process exited");
    if (pool_ && fds[pool_index].revents) read_pool();
    for (size_t i = first_client; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      const int id = ids[i - first_client];
      auto it = std::find_if(clients_.begin(), clients_.end(), [&](auto& c) { return c.id == id; });
      if (it == clients_.end()) continue;
      const bool open = read_client(*it);
      for (size_t nl; (nl = it->input.find('\n')) != std::string::npos;) {
        const std::string line = it->input.substr(0, nl);
        it->input.erase(0, nl + 1);
        handle(*it, line);
      }
      if (!open && !it->wants_stop_reply) drop_client(id);
    }
    if (state_ != KeeperState::kStopping) on_tick();
  }
}

void Keeper::accept_clients() {
  while (clients_.size() < kMaxClients) {
    platform::Fd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
      }
      return;
    }
    // Only our own user and root may talk to us (the directory's 0700 already says so).
    const auto peer = platform::peer_credentials(fd.get());
    if (!peer || (peer->uid != geteuid() && peer->uid != 0)) continue;
    clients_.push_back(Client{next_client_id_++, std::move(fd), {}, false});
  }
}

bool Keeper::read_client(Client& client) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(client.fd.get(), buf, sizeof buf);
    if (n > 0) {
      client.input.append(buf, static_cast<size_t>(n));
      if (client.input.size() > (1 << 16)) return false;  // nobody sends requests that long
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

void Keeper::drop_client(int id) {
  std::erase_if(clients_, [&](const Client& c) { return c.id == id; });
  if (state_ == KeeperState::kOwned && owner_.kind == Owner::Kind::kConnection &&
      owner_.client == id) {
    stop("the owner's connection closed");
  }
}

void Keeper::handle(Client& client, const std::string& line) {
  Request r;
  try {
    r = cluster::decode_request(line);
  } catch (const Error& e) {
    platform::send_line(client.fd.get(),
                        cluster::encode(Reply::failure(ExitCode::kUsage, e.what())));
    return;
  }
  Reply reply;
  if (r.op == "status") {
    reply = Reply::success(status());
  } else if (r.op == "stop") {
    client.wants_stop_reply = true;  // answered by finish(), once everything is gone
    stop("stop requested");
    return;
  } else if (r.op == "harvest") {
    // Only the owner may take the data directory, only into a building entry of a migrated
    // template in our own cache (never over anything that exists: renameat2 RENAME_NOREPLACE).
    const bool owner = state_ == KeeperState::kOwned && owner_.kind == Owner::Kind::kConnection &&
                       owner_.client == client.id;
    const bool name_ok = r.target.rfind("mtmpl-", 0) == 0 &&
                         r.target.find(".building-") != std::string::npos &&
                         r.target.find('/') == std::string::npos;
    if (!owner || !name_ok) {
      reply = Reply::failure(ExitCode::kUsage,
                             "harvest: only the owning connection, into cache/mtmpl-*.building-*");
    } else {
      harvest_target_ = r.target;
      harvest_client_ = client.id;
      client.wants_stop_reply = true;  // answered by finish()
      stop("harvest requested");
      return;
    }
  } else if (r.op == "claim") {
    const bool token_taken =
        access((spec_.cache / cluster::pool_token_name(spec_.pool_key, spec_.id)).c_str(), F_OK) !=
        0;
    if (state_ != KeeperState::kPooled || !token_taken) {
      reply = Reply::failure(ExitCode::kNoSuchServer,
                             "this server is not a pre-started spare whose pool token was taken");
    } else if (!own_by(r, client.id)) {
      reply = Reply::failure(ExitCode::kUsage,
                             fmt::format("the owner process {} is not running", r.owner_pid));
      stop("claimed for an owner that is gone");
    } else {
      reply = Reply::success(status());
      platform::trace("keeper: claimed");
      launch_replacement();
    }
  } else if (r.op == "createdb" || r.op == "dropdb") {
    to_pool(client, std::move(r));
    return;
  } else {
    reply = Reply::failure(ExitCode::kUsage, fmt::format("unknown request '{}'", r.op));
  }
  platform::send_line(client.fd.get(), cluster::encode(reply));
}

void Keeper::to_pool(Client& client, Request r) {
  if (state_ != KeeperState::kOwned) {
    platform::send_line(client.fd.get(),
                        cluster::encode(Reply::failure(ExitCode::kNoSuchServer,
                                                       "this server is not running for clients")));
    return;
  }
  if (!pool_) {
    // Next to this program (the build tree and the install tree both put it there).
    std::error_code ec;
    const auto program =
        std::filesystem::read_symlink(kSelf, ec).parent_path() / "pg_unit_tests-pool";
    try {
      auto [mine, theirs] = platform::socket_pair();
      platform::SpawnSpec s;
      s.argv = {program.string(), spec_.directory.string(), std::to_string(postgres_.port())};
      s.fds.push_back({theirs.get(), cluster::kLaunchFd});
      s.stderr_fd = 2;  // keeper.log
      s.parent_death_signal = SIGKILL;
      s.cwd = "/";
      pool_pid_ = platform::spawn(s);
      fcntl(mine.get(), F_SETFL, fcntl(mine.get(), F_GETFL) | O_NONBLOCK);
      pool_ = std::move(mine);
    } catch (const Error& e) {
      platform::send_line(
          client.fd.get(),
          cluster::encode(Reply::failure(ExitCode::kSystem,
                                         fmt::format("the database pool ({}) did not start: {}",
                                                     program.string(), e.what()))));
      return;
    }
  }
  r.tag = client.id;
  pool_waiting_.push_back(client.id);
  if (!platform::send_line(pool_.get(), cluster::encode(r))) end_pool("it went away");
}

void Keeper::read_pool() {
  char buf[8192];
  ssize_t n;
  while ((n = read(pool_.get(), buf, sizeof buf)) > 0)
    pool_input_.append(buf, static_cast<size_t>(n));
  const bool gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
  std::string failed = "it ended (see keeper.log)";
  for (size_t nl; (nl = pool_input_.find('\n')) != std::string::npos;) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(pool_input_.substr(0, nl));
    } catch (const nlohmann::json::exception&) {
    }
    pool_input_.erase(0, nl + 1);
    if (!j.is_object()) continue;
    if (j.contains("event")) {
      if (j["event"] == "databases") {
        databases_ = j.value("databases", std::vector<DatabaseInfo>{});
        pooled_ = j.value("pooled", 0);
      } else if (j["event"] == "failed") {
        failed = j.value("message", failed);
      }
      continue;
    }
    const int tag = j.value("tag", -1);
    std::erase(pool_waiting_, tag);
    const std::string line =
        j["reply"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto it = std::find_if(clients_.begin(), clients_.end(), [&](auto& c) { return c.id == tag; });
    if (it != clients_.end() && platform::send_line(it->fd.get(), line)) continue;
    // Its asker is gone: what was handed out to nobody goes back.
    const auto reply = cluster::decode_reply(line);
    if (reply.database) {
      Request drop{"dropdb"};
      drop.database = reply.database->name;
      platform::send_line(pool_.get(), cluster::encode(drop));
    }
  }
  if (gone) end_pool(failed);
}

void Keeper::end_pool(const std::string& why) {
  for (int id : std::exchange(pool_waiting_, {})) {
    auto it = std::find_if(clients_.begin(), clients_.end(), [&](auto& c) { return c.id == id; });
    if (it == clients_.end()) continue;
    platform::send_line(
        it->fd.get(),
        cluster::encode(Reply::failure(ExitCode::kDatabase, "the database pool failed: " + why)));
  }
  pool_.reset();
  if (pool_pid_ > 0) {
    kill(pool_pid_, SIGKILL);  // our own child, not yet reaped: the pid cannot be anyone else's
    platform::wait_for(std::exchange(pool_pid_, -1));
  }
  databases_.clear();
  pooled_ = 0;
}

void Keeper::on_tick() {
  const auto now = Clock::now();
  // Someone removed the server's directory (rm -rf of the base): nothing can use it any more.
  if (access(spec_.directory.c_str(), F_OK) != 0 && errno == ENOENT) {
    stop("its directory was removed");
    return;
  }
  if (state_ == KeeperState::kPooled) {
    const auto token = spec_.cache / cluster::pool_token_name(spec_.pool_key, spec_.id);
    if (access(token.c_str(), F_OK) != 0) {
      // Taken: the claim follows at once. If it does not (the claimer died, or the cache was
      // removed), retire.
      if (!token_gone_at_) token_gone_at_ = now;
      if (now - *token_gone_at_ > cluster::kClaimGrace) stop("its pool token vanished unclaimed");
    } else if (now - pooled_since_ >= std::chrono::seconds(spec_.spare_idle) &&
               unlink(token.c_str()) == 0) {
      stop("retired unclaimed");  // a claimer racing with us lost the unlink
    }
  } else if (owner_.kind == Owner::Kind::kNobody && owner_.idle_timeout > 0) {
    if (cluster::count_connections(postgres_.socket_path(), spec_.tcp ? postgres_.port() : 0) > 0) {
      last_busy_ = now;
    } else if (now - last_busy_ >= std::chrono::seconds(owner_.idle_timeout)) {
      stop("idle timeout");
    }
  }
}

void Keeper::stop(const std::string& why) {
  if (state_ == KeeperState::kStopping) return;
  state_ = KeeperState::kStopping;
  stop_reason_ = why;
  platform::trace(("keeper: stopping: " + why).c_str());
}

void Keeper::finish() noexcept {
  state_ = KeeperState::kStopping;
  if (spec_.spare) {
    unlink((spec_.cache / cluster::pool_token_name(spec_.pool_key, spec_.id)).c_str());
  }
  end_pool("the server is stopping");  // its databases go with the server
  const Reply harvested = harvest_target_.empty() ? Reply::success() : harvest();
  postgres_.shutdown();
  listener_.reset();
  if (created_) platform::remove_tree(spec_.directory);
  created_ = false;
  // Our guardian sees that everything is gone and ends (before we answer, so that nothing of the
  // server runs when the answer arrives).
  guardian_pipe_.reset();
  if (guardian_ > 0) platform::wait_for(std::exchange(guardian_, -1));
  for (auto& c : clients_) {
    if (!c.wants_stop_reply) continue;
    platform::send_line(c.fd.get(),
                        cluster::encode(c.id == harvest_client_ ? harvested : Reply::success()));
  }
}

Reply Keeper::harvest() noexcept {
  try {
    if (!postgres_.shutdown_cleanly(std::chrono::seconds(120))) {
      return Reply::failure(
          ExitCode::kServerStart,
          fmt::format("the server did not shut down cleanly: {}",
                      platform::last_lines(
                          platform::read_file(spec_.directory / "postgres.log").value_or(""), 2)));
    }
    const auto cache = platform::Dir::open(spec_.cache);
    if (!cache) return Reply::failure(ExitCode::kFilesystem, "the cache directory is gone");
    const fs::path data = postgres_.data_directory();
    if (renameat2(AT_FDCWD, data.c_str(), cache->fd(), harvest_target_.c_str(), RENAME_NOREPLACE) !=
        0) {
      return Reply::failure(
          ExitCode::kFilesystem,
          fmt::format("could not move {} to {}: {}", data.string(),
                      (spec_.cache / harvest_target_).string(), std::strerror(errno)));
    }
    return Reply::success();
  } catch (const std::exception& e) {
    return Reply::failure(ExitCode::kFilesystem, e.what());
  }
}

void Keeper::launch_guardian() {
  // A keeper killed (SIGKILL, the OOM killer) cannot clean up; its postgres goes with it
  // (PR_SET_PDEATHSIG), and this small process removes the directory then. It waits on a pipe
  // whose write end only we hold, and on a pidfd of postgres taken while postgres is our child.
  // Forked, not started as a program: it must exist before we report (a keeper killed right
  // after must not leave its directory), and the keeper is single-threaded, so a fork is safe.
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  platform::Fd read_end(p[0]);
  guardian_pipe_.reset(p[1]);
  const platform::Fd postmaster = pidfd_of(postgres_.pid());
  const std::string token =
      spec_.spare ? (spec_.cache / cluster::pool_token_name(spec_.pool_key, spec_.id)).string()
                  : std::string();
  const std::string directory = spec_.directory.string();
  const pid_t pid = fork();
  if (pid == 0) {
    // Out of the way first, so that placing one cannot clobber the other.
    const int pipe_fd = fcntl(read_end.get(), F_DUPFD, 10);
    const int pid_fd = postmaster ? fcntl(postmaster.get(), F_DUPFD, 10) : -1;
    dup2(pipe_fd, 3);
    if (pid_fd >= 0) {
      dup2(pid_fd, 4);
    } else {
      close(4);
    }
    close_range(5, ~0U, 0);  // no client connection (an owner's EOF) may stay open here
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_NAME, "pgut-guardian");
    _exit(guard(directory.c_str(), token.c_str(), 3, 4));
  }
  if (pid > 0) {
    guardian_ = pid;
  } else {
    guardian_pipe_.reset();
  }
}

int guard(const char* directory, const char* token, int pipe_fd, int postmaster_fd) {
  // Until the keeper ends, its end of the pipe stays open (nothing is ever written).
  char c;
  while (read(pipe_fd, &c, 1) < 0 && errno == EINTR) {
  }
  if (access(directory, F_OK) != 0) return 0;  // the keeper removed everything itself
  // The keeper died: its postgres got SIGQUIT with it. Wait for it to exit (the pidfd names that
  // very process), make sure, and remove what is left.
  pollfd p{postmaster_fd, POLLIN, 0};
  if (fcntl(postmaster_fd, F_GETFD) >= 0 && poll(&p, 1, 10000) == 0) {
    syscall(SYS_pidfd_send_signal, postmaster_fd, SIGKILL, nullptr, 0);
    poll(&p, 1, 5000);
  }
  if (*token) unlink(token);
  platform::remove_tree(directory);
  return 0;
}

cluster::KeeperStatus Keeper::status() const {
  cluster::KeeperStatus st;
  ServerInfo& i = st.info;
  i.id = spec_.id;
  i.directory = spec_.directory;
  i.data_directory = postgres_.data_directory();
  i.socket_directory = spec_.directory;
  i.port = postgres_.port();
  i.user = "postgres";
  i.database = "postgres";
  i.pid = postgres_.pid();
  i.keeper_pid = getpid();
  i.version = spec_.version;
  i.host = spec_.tcp ? "127.0.0.1" : spec_.directory.string();
  i.password = spec_.password;
  st.state = cluster::to_string(state_);
  st.owner = state_ == KeeperState::kOwned ? owner_.describe() : "";
  st.overlay = spec_.overlay;
  st.info.databases = databases_;
  st.pooled = pooled_;
  st.pool_pid = pool_pid_ > 0 ? pool_pid_ : 0;
  return st;
}

void Keeper::publish_spare() {
  const auto token = spec_.cache / cluster::pool_token_name(spec_.pool_key, spec_.id);
  platform::Fd fd(open(token.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) platform::throw_filesystem_error("create", token, errno);
}

void Keeper::launch_replacement() const {
  try {
    // nobody waits for its report
    cluster::spawn_keeper(cluster::spare_of(spec_), std::nullopt, kSelf);
  } catch (const Error& e) {
    platform::trace(("keeper: no replacement spare: " + std::string(e.what())).c_str());
  }
}

void Keeper::launch_refill() const {
  // Off the critical path: prepare the next start's data directory at low priority, in a process
  // of its own that finishes its copy even when this server is stopped a moment later (the next
  // start needs it).
  platform::SpawnSpec s;
  s.argv = {kSelf, "refill", spec_.cache.string(), spec_.template_key, spec_.template_dir.string()};
  s.cwd = "/";
  s.nice = 10;
  s.detach = true;
  try {
    platform::spawn(s);
  } catch (const Error& e) {
    platform::trace(("keeper: no refill: " + std::string(e.what())).c_str());
  }
}

}  // namespace pg_unit_tests::keeper
