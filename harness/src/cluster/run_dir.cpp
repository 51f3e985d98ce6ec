#include "cluster/run_dir.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cluster/keeper_client.hpp"
#include "platform/dir.hpp"
#include "platform/fs.hpp"
#include "pq/conninfo.hpp"

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> server_directories(const Layout& layout) {
  std::vector<fs::path> out;
  if (!layout.exists()) return out;
  for (const auto& name : layout.run_dir->entries()) {
    if (name[0] != '.') out.push_back(layout.run / name);
  }
  return out;
}

// Removes a directory of run/ through the run directory's descriptor.
void remove_server_directory(const fs::path& directory, const Layout& layout) {
  if (layout.exists() && directory.parent_path() == layout.run) {
    layout.run_dir->remove_tree(directory.filename());
  }
}

// A keeper binds its socket right after creating its directory: a directory that has had no
// socket for this long lost its keeper at its start.
constexpr auto kBindGrace = std::chrono::seconds(60);
// How long stop waits for a server that is starting to open its keeper's socket.
constexpr auto kStartingWait = std::chrono::seconds(5);

// What a server directory's keeper socket proves.
enum class Keeper { kAnswers, kDead, kUnproven };

// Connects to the keeper of run/<id>; a keeper still starting (a young directory without its
// socket yet) is waited for until `deadline`. kDead only on proof: the socket refuses connections
// (its keeper ended) or never appeared within kBindGrace. Anything else (not ours, gone, still
// starting at the deadline) is kUnproven: nothing may be removed on its strength.
Keeper reach_keeper(const fs::path& dir, const Layout& layout,
                    std::chrono::steady_clock::time_point deadline,
                    std::optional<KeeperConnection>& keeper) {
  for (;;) {
    int error = 0;
    if ((keeper = KeeperConnection::connect(dir, layout.user.uid, &error))) return Keeper::kAnswers;
    if (error == ECONNREFUSED) return Keeper::kDead;
    if (error != ENOENT || !layout.exists()) return Keeper::kUnproven;
    const auto st = layout.run_dir->stat(dir.filename());
    if (!st || !S_ISDIR(st->st_mode)) return Keeper::kUnproven;
    if (std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st->st_mtime) >=
        kBindGrace) {
      return Keeper::kDead;
    }
    if (std::chrono::steady_clock::now() >= deadline) return Keeper::kUnproven;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

[[noreturn]] void no_such_server(const std::string& target) {
  throw Error(ExitCode::kNoSuchServer,
              fmt::format("no running pg_unit_tests server at '{}' (pg_unit_tests list shows "
                          "them): give the URI that start printed, or its directory",
                          pq::hide_password(target)));
}

}  // namespace

void fill_uri(ServerInfo& i) {
  pq::Options o = {{"user", i.user}, {"dbname", i.database}, {"port", std::to_string(i.port)}};
  o["host"] = i.host;
  if (!i.password.empty()) o["password"] = i.password;
  i.uri = pq::make_uri(o);
  // JDBC reaches only TCP; its URL takes user and password as parameters.
  if (!i.password.empty()) {
    i.jdbc_url = fmt::format("jdbc:postgresql://{}:{}/{}?user={}&password={}", i.host, i.port,
                             pq::percent_encode(i.database), pq::percent_encode(i.user),
                             pq::percent_encode(i.password));
  }
}

std::vector<KeeperStatus> running_servers(const Layout& layout) {
  std::vector<KeeperStatus> out;
  for (const auto& dir : server_directories(layout)) {
    auto keeper = KeeperConnection::connect(dir, layout.user.uid);
    if (!keeper) continue;
    try {
      Reply r = keeper->request(Request{"status"}, std::chrono::seconds(10));
      if (!r.ok || !r.status) continue;
      fill_uri(r.status->info);
      out.push_back(std::move(*r.status));
    } catch (const Error&) {
      // It stopped meanwhile.
    }
  }
  return out;
}

fs::path locate_server(const std::string& target, const Layout& layout) {
  std::string host = target;
  int port = 0;
  if (target.find("://") != std::string::npos || target.find('=') != std::string::npos) {
    pq::Options o;
    try {
      o = pq::parse_conninfo(target);
    } catch (const Error&) {
      no_such_server(target);
    }
    host = o.count("host") ? o.at("host") : "";
    port = o.count("port") ? std::atoi(o.at("port").c_str()) : 0;
  }
  std::error_code ec;
  const fs::path run = fs::weakly_canonical(layout.run, ec);
  if (!host.empty() && host[0] == '/') {
    const fs::path p = fs::weakly_canonical(host, ec);
    // run/<id> itself (the socket directory), or its data directory.
    for (const fs::path& candidate : {p, p.parent_path()}) {
      if (!ec && candidate.parent_path() == run && fs::is_directory(candidate, ec)) {
        return candidate;
      }
    }
  } else if (port > 0) {
    for (const auto& s : running_servers(layout)) {
      if (s.info.port == port && s.info.host == host) return s.info.directory;
    }
  }
  no_such_server(target);
}

bool stop_server(const fs::path& directory, const Layout& layout) {
  std::optional<KeeperConnection> keeper;
  switch (
      reach_keeper(directory, layout, std::chrono::steady_clock::now() + kStartingWait, keeper)) {
    case Keeper::kAnswers:
      keeper->stop();
      return true;
    case Keeper::kDead:
      // Its keeper was killed (its postgres got SIGQUIT with it): only the files are left.
      if (directory.parent_path() != layout.run) return false;
      remove_server_directory(directory, layout);
      return true;
    case Keeper::kUnproven:
      break;
  }
  if (!layout.exists() || directory.parent_path() != layout.run ||
      !layout.run_dir->exists(directory.filename())) {
    return false;
  }
  throw Error(ExitCode::kNoSuchServer,
              fmt::format("the server at {} is still starting (its keeper has not answered for {} "
                          "s): stop it with the URI its start prints",
                          directory.string(), kStartingWait.count()));
}

int stop_all(const Layout& layout) {
  if (!layout.exists()) return 0;
  // Take the spares' pool tokens first, so that nobody claims one while we stop it.
  for (const auto& name : layout.cache_dir->entries()) {
    if (name.rfind(kPoolPrefix, 0) == 0) layout.cache_dir->unlink(name);
  }
  int stopped = 0;
  // Servers that are starting are waited for (a few milliseconds, normally) and stopped through
  // their keepers like the others: never their directory removed under them.
  const auto deadline = std::chrono::steady_clock::now() + kStartingWait;
  for (const auto& dir : server_directories(layout)) {
    std::optional<KeeperConnection> keeper;
    switch (reach_keeper(dir, layout, deadline, keeper)) {
      case Keeper::kAnswers:
        keeper->stop();
        ++stopped;
        break;
      case Keeper::kDead:
        remove_server_directory(dir, layout);
        break;
      case Keeper::kUnproven:
        break;  // collect_garbage removes it once it is proven dead
    }
  }
  return stopped;
}

void collect_garbage(const Layout& layout) {
  for (const auto& dir : server_directories(layout)) {
    std::optional<KeeperConnection> keeper;
    // No waiting: a server that is starting is someone else's business here.
    if (reach_keeper(dir, layout, std::chrono::steady_clock::time_point(), keeper) ==
        Keeper::kDead) {
      remove_server_directory(dir, layout);
    }
  }
}

}  // namespace pg_unit_tests::cluster
