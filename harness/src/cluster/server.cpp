// The Server API: prepares what a server needs (installation, template, overlay, settings), then
// hands over to a keeper process (keeper.cpp) and waits for its report.
#include "pg_unit_tests/server.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/cache.hpp"
#include "pg_unit_tests/cache.hpp"
#include "cluster/keeper.hpp"
#include "cluster/layout.hpp"
#include "cluster/overlay.hpp"
#include "cluster/server_state.hpp"
#include "cluster/settings.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "platform/trace.hpp"
#include "pq/conninfo.hpp"

#ifndef PGUT_CLI_BUILD_PATH
#define PGUT_CLI_BUILD_PATH ""
#endif
#ifndef PGUT_CLI_INSTALL_PATH
#define PGUT_CLI_INSTALL_PATH ""
#endif
#ifndef PGUT_BUILD_DIR
#define PGUT_BUILD_DIR ""
#endif

namespace pg_unit_tests {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cluster::Layout;

namespace {

// pg_config runs in about 5 ms; remember its answers per binary (keyed by modification times).
Installation find_installation(const std::string& pg_config, const Layout& layout) {
  std::string origin;
  const fs::path config = Installation::locate(pg_config, &origin);
  struct stat a {
  }, b{};
  if (stat(config.c_str(), &a) != 0) return Installation::describe(config, origin);
  const fs::path memo =
      layout.cache / fmt::format("installation-{}.json", cluster::stable_hash(fmt::format(
                                                             "{}|{}.{}", config.string(),
                                                             a.st_mtim.tv_sec, a.st_mtim.tv_nsec)));
  if (auto text = platform::read_file(memo)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_discarded() && stat((j.value("bindir", "") + "/postgres").c_str(), &b) == 0 &&
        j.value("postgres_mtime", 0LL) == static_cast<long long>(b.st_mtim.tv_sec)) {
      Installation inst;
      inst.pg_config = config;
      inst.bindir = j.value("bindir", "");
      inst.sharedir = j.value("sharedir", "");
      inst.pkglibdir = j.value("pkglibdir", "");
      inst.version = j.value("version", "");
      inst.major = j.value("major", 0);
      return inst;
    }
  }
  Installation inst = Installation::describe(config, origin);
  if (stat(inst.bin("postgres").c_str(), &b) == 0) {
    nlohmann::json j = {{"bindir", inst.bindir.string()},
                        {"sharedir", inst.sharedir.string()},
                        {"pkglibdir", inst.pkglibdir.string()},
                        {"version", inst.version},
                        {"major", inst.major},
                        {"postgres_mtime", static_cast<long long>(b.st_mtim.tv_sec)}};
    try {
      platform::write_file_atomic(memo, j.dump(), 0644);
    } catch (const Error&) {
      // Only a cache.
    }
  }
  return inst;
}

// The pg_unit_tests binary runs each server's keeper.
fs::path keeper_executable() {
  if (const char* env = std::getenv("PG_UNIT_TESTS_BIN"); env && *env) return env;
  fs::path self = platform::self_executable();
  if (self.filename() == "pg_unit_tests") return self;
  for (const char* p : {PGUT_CLI_BUILD_PATH, PGUT_CLI_INSTALL_PATH}) {
    if (*p && access(p, X_OK) == 0) return p;
  }
  if (auto found = platform::find_on_path("pg_unit_tests"); !found.empty()) return found;
  throw Error(ExitCode::kInstallation,
              "the pg_unit_tests binary (it runs each server's keeper) was not found: install it "
              "(make install) or set PG_UNIT_TESTS_BIN to its path");
}

// True when this process runs from the build tree (then the extension is served from there).
bool running_from_build_tree() {
  const std::string build = PGUT_BUILD_DIR;
  const std::string self = platform::self_executable().string();
  return !build.empty() && self.compare(0, build.size(), build) == 0;
}

// Removes what keepers that died (SIGKILL, OOM, reboot of /dev/shm's contents aside) left.
void collect_garbage(const Layout& layout) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.run, ec)) {
    if (!fs::exists(e.path() / "keeper.pid", ec)) {
      // A keeper writes keeper.pid right after creating the directory; give it time.
      auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec);
      if (!ec && age > 60s) platform::remove_tree(e.path());
      continue;
    }
    if (cluster::live_keeper(e.path()) > 0) continue;
    if (auto st = cluster::read_state(e.path()); st && platform::process_alive(st->info.pid)) {
      auto cmd = platform::read_file(fmt::format("/proc/{}/cmdline", st->info.pid));
      if (cmd && cmd->find(st->info.data_directory.string()) != std::string::npos) {
        kill(st->info.pid, SIGQUIT);
        for (int i = 0; i < 500 && platform::process_alive(st->info.pid); ++i) {
          std::this_thread::sleep_for(10ms);
        }
      }
    }
    platform::remove_tree(e.path());
  }
}

struct Launch {
  cluster::KeeperSpec spec;
  fs::path keeper;
};

Launch prepare(const ServerOptions& o, bool attached) {
  platform::trace("prepare");
  Layout layout = Layout::prepare();
  collect_garbage(layout);
  platform::trace("layout ready, garbage collected");
  Installation inst = find_installation(o.pg_config, layout);
  platform::trace("installation found");
  cluster::TemplateConfig tc;
  if (!o.locale.empty()) tc.locale = o.locale;
  if (!o.encoding.empty()) tc.encoding = o.encoding;

  std::vector<cluster::ExtensionFiles> extensions;
  bool preload = false;
  if (o.preload_pg_unit_tests) {
    auto own = cluster::own_extension_build();
    const bool installed = fs::exists(inst.pkglibdir / "pg_unit_tests.so");
    if (own && (running_from_build_tree() || !installed)) {
      preload = !own->lib_files.empty();
      extensions.push_back(std::move(*own));
    } else {
      preload = installed;
    }
  }
  const auto settings = cluster::compose_settings({o.settings, preload, o.freeze});
  for (const auto& dir : o.extensions)
    extensions.push_back(cluster::resolve_extension(dir, inst, layout));
  const cluster::Overlay overlay = cluster::prepare_overlay(inst, extensions, layout);
  platform::trace("overlay ready");
  const cluster::Template tmpl = cluster::ensure_template(inst, tc, layout);
  platform::trace("template ready");

  Launch l;
  auto& s = l.spec;
  s.id = platform::random_hex(5);
  s.directory = layout.run / s.id;
  if ((s.directory / ".s.PGSQL.65535").string().size() >= 107) {
    throw Error(ExitCode::kFilesystem,
                fmt::format("the socket path under {} would be longer than Unix sockets allow (107 "
                            "bytes): set PG_UNIT_TESTS_DIR to a shorter directory",
                            layout.run.string()));
  }
  s.cache = layout.cache;
  s.template_dir = tmpl.dir;
  s.template_key = tmpl.key;
  s.postgres = overlay.postgres;
  s.overlay = overlay.root;
  s.version = inst.version;
  for (const auto& setting : settings) s.settings.push_back(setting.argument());
  s.tcp = o.tcp;
  if (o.tcp) s.password = platform::random_hex(16);
  s.idle_timeout = static_cast<int>(o.idle_timeout.count());
  s.attached = attached;
  s.create = o.create;
  if (layout.user.switch_to) {
    s.uid = static_cast<int>(layout.user.uid);
    s.gid = static_cast<int>(layout.user.gid);
  }
  // Servers that differ only in what is decided at claim time (owner, idle timeout) share a pool.
  std::string identity =
      fmt::format("{}|{}|{}|{}", s.postgres.string(), s.template_key, s.version, layout.user.uid);
  for (const auto& setting : s.settings) identity += "|" + setting;
  s.pool_key = cluster::stable_hash(identity);
  if (const char* idle = std::getenv("PG_UNIT_TESTS_SPARE_IDLE"); idle && *idle) {
    s.spare_idle = std::max(1, std::atoi(idle));
  }
  l.keeper = keeper_executable();
  return l;
}

struct Started {
  ServerInfo info;
  pid_t keeper = -1;
  int owner_fd = -1;
  bool child = true;  // the keeper is our child (false: a claimed spare's keeper)
};

// Takes a pre-started spare server from the pool, if one with this configuration is ready: one
// unlink(2) of its token decides between concurrent claimers. TCP servers (a password each) and
// servers with --create are never pooled.
std::optional<Started> claim_spare_server(const cluster::KeeperSpec& spec) {
  if (spec.spare || spec.tcp || !spec.create.empty()) return std::nullopt;
  const std::string prefix = std::string(cluster::kPoolPrefix) + spec.pool_key + "-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(spec.cache, ec)) {
    const std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0 || unlink(e.path().c_str()) != 0) continue;
    const fs::path dir = spec.directory.parent_path() / name.substr(prefix.size());
    const int keeper = cluster::live_keeper(dir);
    auto st = cluster::read_state(dir);
    if (keeper <= 0 || !st) continue;  // a stale token; garbage collection takes the rest
    nlohmann::json claim = {{"owner_pid", static_cast<int>(getpid())},
                            {"attached", spec.attached},
                            {"idle_timeout", spec.idle_timeout}};
    try {
      platform::write_file_atomic(dir / "claim.json", claim.dump(), 0644);
    } catch (const Error&) {
      continue;
    }
    if (kill(keeper, SIGUSR1) != 0) continue;
    platform::trace("spare server claimed");
    Started s;
    s.info = st->info;
    s.keeper = keeper;
    s.child = false;
    return s;
  }
  return std::nullopt;
}

Started launch(const Launch& l) {
  if (auto claimed = claim_spare_server(l.spec)) return *claimed;
  int spec_pipe[2], status_pipe[2], owner_pipe[2] = {-1, -1};
  if (pipe2(spec_pipe, O_CLOEXEC) != 0 || pipe2(status_pipe, O_CLOEXEC) != 0 ||
      (l.spec.attached && pipe2(owner_pipe, O_CLOEXEC) != 0)) {
    throw Error(ExitCode::kSystem,
                fmt::format("could not create a pipe: {}", std::strerror(errno)));
  }
  platform::Fd spec_r(spec_pipe[0]), spec_w(spec_pipe[1]);
  platform::Fd status_r(status_pipe[0]), status_w(status_pipe[1]);
  platform::Fd owner_r(owner_pipe[0]), owner_w(owner_pipe[1]);

  Started out;
  if (platform::single_threaded()) {
    // Fork without exec: saves loading the binary and its libraries again (about 4 ms). Only safe
    // in a single-threaded process; others (and the sanitizer build) exec `pg_unit_tests __keeper`.
    std::fflush(nullptr);
    out.keeper = fork();
    if (out.keeper < 0) {
      throw Error(ExitCode::kSystem, fmt::format("could not fork: {}", std::strerror(errno)));
    }
    if (out.keeper == 0) {
      setsid();  // Ctrl-C in a terminal goes to the foreground group, not to the keeper
      const int devnull = open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3; ++fd) dup2(devnull, fd);
      dup2(status_w.get(), cluster::kKeeperStatusFd);
      if (owner_r) dup2(owner_r.get(), cluster::kKeeperOwnerFd);
      close_range(cluster::kKeeperOwnerFd + 1, ~0U, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE})
        signal(sig, SIG_DFL);
      _exit(cluster::keeper_run(l.spec));
    }
    spec_w.reset();
  } else {
    platform::SpawnSpec s;
    s.argv = {l.keeper.string(), cluster::kKeeperArg};
    s.stdin_fd = spec_r.get();
    s.fds.push_back({status_w.get(), cluster::kKeeperStatusFd});
    if (owner_r) s.fds.push_back({owner_r.get(), cluster::kKeeperOwnerFd});
    s.new_session = true;  // Ctrl-C in a terminal goes to the foreground group, not to the keeper
    s.cwd = "/";
    out.keeper = platform::spawn(s);
    const std::string spec = nlohmann::json(l.spec).dump();
    for (size_t off = 0; off < spec.size();) {
      ssize_t n = write(spec_w.get(), spec.data() + off, spec.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    spec_w.reset();
  }
  platform::trace("keeper started");
  spec_r.reset();
  status_w.reset();
  owner_r.reset();

  const std::string reply = platform::read_all(status_r.get());
  platform::trace("keeper reported");
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    const int status = platform::wait_for(out.keeper);
    throw Error(ExitCode::kSystem,
                fmt::format("the server's keeper ({}) ended without a report (exit status {})",
                            l.keeper.string(), status));
  }
  if (!j.value("ok", false)) {
    platform::wait_for(out.keeper);
    throw Error(static_cast<ExitCode>(j.value("code", static_cast<int>(ExitCode::kSystem))),
                j.value("message", "the server did not start"));
  }
  out.info = cluster::info_from_json(j.at("info").dump());
  out.owner_fd = owner_w.release();
  return out;
}

// Finds the server directory behind a URI, socket directory, server or data directory.
fs::path locate_server(const std::string& what, const Layout& layout) {
  std::string host = what;
  int port = 0;
  if (what.rfind("postgres://", 0) == 0 || what.rfind("postgresql://", 0) == 0) {
    const pq::Options o = pq::parse_conninfo(what);
    host = o.count("host") ? o.at("host") : "";
    port = o.count("port") ? std::atoi(o.at("port").c_str()) : 0;
  }
  std::error_code ec;
  if (!host.empty() && host[0] == '/') {
    fs::path p = fs::weakly_canonical(host, ec);
    for (const fs::path& candidate : {p, p.parent_path()}) {
      if (fs::exists(candidate / "server.json", ec) || fs::exists(candidate / "keeper.pid", ec)) {
        return candidate;
      }
    }
  } else if (port > 0) {
    for (const auto& e : fs::directory_iterator(layout.run, ec)) {
      if (auto st = cluster::read_state(e.path()); st && st->info.port == port) return e.path();
    }
  }
  throw Error(ExitCode::kNoSuchServer,
              fmt::format("no running pg_unit_tests server at '{}' (pg_unit_tests list shows "
                          "them): give the URI that start printed, or its directory",
                          what));
}

void stop_directory(const fs::path& dir) {
  const int keeper = cluster::live_keeper(dir);
  if (keeper > 0 && kill(keeper, SIGTERM) == 0) {
    // The keeper stops the server and removes the directory (its last act); wait for that.
    for (int i = 0; i < 20000 && fs::exists(dir) && platform::process_alive(keeper); ++i) {
      std::this_thread::sleep_for(250us);
    }
    if (!fs::exists(dir)) return;
  }
  // No keeper: do its work.
  if (auto st = cluster::read_state(dir); st && platform::process_alive(st->info.pid)) {
    kill(st->info.pid, SIGQUIT);
    for (int i = 0; i < 500 && platform::process_alive(st->info.pid); ++i) {
      std::this_thread::sleep_for(10ms);
    }
  }
  platform::remove_tree(dir);
}

}  // namespace

Server Server::start(const ServerOptions& options) {
  Started s = launch(prepare(options, true));
  Server server;
  server.info_ = std::move(s.info);
  server.owner_fd_ = s.owner_fd;
  server.child_keeper_ = s.child;
  return server;
}

ServerInfo Server::start_detached(const ServerOptions& options) {
  return launch(prepare(options, false)).info;
}

void Server::stop(const std::string& uri_or_directory) {
  const Layout layout = Layout::locate();
  stop_directory(locate_server(uri_or_directory, layout));
}

int Server::stop_all() {
  const Layout layout = Layout::locate();
  std::error_code ec;
  // Take the spares' pool tokens first, so that nobody claims one while we stop it.
  for (const auto& e : fs::directory_iterator(layout.cache, ec)) {
    if (e.path().filename().string().rfind(cluster::kPoolPrefix, 0) == 0) {
      fs::remove(e.path(), ec);
    }
  }
  int stopped = 0;
  for (const auto& e : fs::directory_iterator(layout.run, ec)) {
    if (cluster::live_keeper(e.path()) > 0) ++stopped;
    stop_directory(e.path());
  }
  return stopped;
}

std::vector<ServerInfo> Server::list() {
  const Layout layout = Layout::locate();
  std::vector<ServerInfo> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.run, ec)) {
    auto st = cluster::read_state(e.path());
    if (st && !st->spare && cluster::live_keeper(e.path()) > 0) out.push_back(st->info);
  }
  return out;
}

Server::Server(Server&& other) noexcept
    : info_(std::move(other.info_)),
      owner_fd_(std::exchange(other.owner_fd_, -1)),
      child_keeper_(other.child_keeper_) {
  other.info_ = ServerInfo{};
}

Server& Server::operator=(Server&& other) noexcept {
  if (this != &other) {
    stop();
    info_ = std::move(other.info_);
    other.info_ = ServerInfo{};
    owner_fd_ = std::exchange(other.owner_fd_, -1);
    child_keeper_ = other.child_keeper_;
  }
  return *this;
}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (info_.keeper_pid > 0) {
    if (child_keeper_) {
      kill(info_.keeper_pid, SIGTERM);
      // The keeper is our child: reap it; it has removed everything when it exits.
      if (platform::wait_for(info_.keeper_pid) == 255 && fs::exists(info_.directory)) {
        stop_directory(info_.directory);
      }
    } else {
      stop_directory(info_.directory);  // a claimed spare: its keeper is not our child
    }
    info_.keeper_pid = 0;
  }
  if (owner_fd_ >= 0) {
    close(owner_fd_);
    owner_fd_ = -1;
  }
}

std::vector<std::pair<std::string, std::string>> Server::environment() const {
  return {{"PGHOST", info_.host},         {"PGPORT", std::to_string(info_.port)},
          {"PGUSER", info_.user},         {"PGPASSWORD", info_.password},
          {"PGDATABASE", info_.database}, {"DATABASE_URL", info_.uri}};
}

}  // namespace pg_unit_tests

namespace pg_unit_tests::cache {

namespace {
Item to_item(const cluster::CacheEntry& e) {
  return Item{e.kind, e.key, e.path.string(), e.bytes, e.detail};
}
}  // namespace

void warm(const ServerOptions& options, int servers) {
  Launch l = prepare(options, false);
  for (int i = 0; i < servers; ++i) {
    Launch spare = l;
    spare.spec.spare = true;
    spare.spec.id = platform::random_hex(5);
    spare.spec.directory = l.spec.directory.parent_path() / spare.spec.id;
    launch(spare);
  }
  const Layout layout = Layout::locate();
  const cluster::Template tmpl{l.spec.template_key, l.spec.template_dir};
  if (!layout.user.switch_to) {
    cluster::refill_spares(layout, tmpl);
    return;
  }
  // Under root the copies must belong to the server user: make them in a child that switches.
  const pid_t pid = fork();
  if (pid < 0)
    throw Error(ExitCode::kSystem, fmt::format("could not fork: {}", std::strerror(errno)));
  if (pid == 0) {
    int code = 0;
    if (setgroups(0, nullptr) != 0 || setgid(layout.user.gid) != 0 ||
        setuid(layout.user.uid) != 0) {
      _exit(1);
    }
    try {
      cluster::refill_spares(layout, tmpl);
    } catch (...) {
      code = 1;
    }
    _exit(code);
  }
  if (platform::wait_for(pid) != 0) {
    throw Error(ExitCode::kFilesystem,
                fmt::format("could not prepare spare copies in {}", layout.cache.string()));
  }
}

Status status() {
  const Layout layout = Layout::locate();
  Status s;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.run, ec)) {
    auto st = cluster::read_state(e.path());
    if (st && st->spare && cluster::live_keeper(e.path()) > 0) {
      s.items.push_back(Item{
          "server", st->info.id, e.path().string(), 0,
          "pre-started spare server, ready to claim (pid " + std::to_string(st->info.pid) + ")"});
    }
  }
  s.directory = layout.base.string();
  s.in_memory = fs::exists(layout.base, ec) && platform::on_tmpfs(layout.base);
  for (const auto& e : cluster::cache_entries(layout)) s.items.push_back(to_item(e));
  s.servers = Server::list();
  return s;
}

std::vector<Item> clear() {
  const Layout layout = Layout::locate();
  std::vector<Item> out;
  // Spare servers first: take their tokens (so that nobody claims them meanwhile), then stop them.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.cache, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(cluster::kPoolPrefix, 0) != 0 || unlink(e.path().c_str()) != 0) continue;
    const fs::path dir = layout.run / name.substr(name.rfind('-') + 1);
    if (fs::exists(dir, ec)) {
      stop_directory(dir);
      out.push_back(Item{"server", dir.filename().string(), dir.string(), 0, "spare server"});
    }
  }
  for (const auto& e : cluster::clear_cache(layout)) out.push_back(to_item(e));
  return out;
}

}  // namespace pg_unit_tests::cache
