#include "cluster/run_dir.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>

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
  if (auto keeper = KeeperConnection::connect(directory, layout.user.uid)) {
    keeper->stop();
    return true;
  }
  // No keeper (killed): its postgres got SIGQUIT with it; only the files are left.
  if (!layout.exists() || directory.parent_path() != layout.run ||
      !layout.run_dir->exists(directory.filename())) {
    return false;
  }
  remove_server_directory(directory, layout);
  return true;
}

int stop_all(const Layout& layout) {
  if (!layout.exists()) return 0;
  // Take the spares' pool tokens first, so that nobody claims one while we stop it.
  for (const auto& name : layout.cache_dir->entries()) {
    if (name.rfind(kPoolPrefix, 0) == 0) layout.cache_dir->unlink(name);
  }
  int stopped = 0;
  for (const auto& dir : server_directories(layout)) {
    if (auto keeper = KeeperConnection::connect(dir, layout.user.uid)) {
      keeper->stop();
      ++stopped;
    } else {
      remove_server_directory(dir, layout);
    }
  }
  return stopped;
}

void collect_garbage(const Layout& layout) {
  for (const auto& dir : server_directories(layout)) {
    int error = 0;
    if (KeeperConnection::connect(dir, layout.user.uid, &error)) continue;
    if (error == ENOENT) {
      struct stat st;
      if (stat(dir.c_str(), &st) != 0 || time(nullptr) - st.st_mtime < 60) continue;
    } else if (error != ECONNREFUSED) {
      continue;  // not ours to judge
    }
    remove_server_directory(dir, layout);
  }
}

}  // namespace pg_unit_tests::cluster
