// The public cache API (pg_unit_tests/cache.hpp): warm, status, clear. The template cache itself
// is template_cache.cpp; running spares are asked through their keepers.
#include "pg_unit_tests/cache.hpp"

#include <fmt/format.h>

#include "cluster/keeper_client.hpp"
#include "cluster/launch.hpp"
#include "cluster/layout.hpp"
#include "cluster/run_dir.hpp"
#include "cluster/template_cache.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests::cache {

namespace fs = std::filesystem;
using cluster::Layout;

namespace {

Item to_item(const cluster::CacheEntry& e) {
  Item i{e.kind, e.key, e.path.string(), e.bytes, e.detail, e.version};
  if (e.kind == "migrated" && e.description.is_object()) {
    i.init_files = e.description.value("files", std::vector<std::string>{});
    i.init_command = e.description.value("command", "");
    i.init_directory = e.description.value("directory", "");
    i.init_key = e.description.value("key_paths", std::vector<std::string>{});
    i.last_used = e.last_used;
  }
  return i;
}

bool pooled(const cluster::KeeperStatus& s) {
  return s.state == cluster::to_string(cluster::KeeperState::kPooled);
}

}  // namespace

void warm(const ServerOptions& options, int servers) {
  const cluster::Launch l = cluster::prepare_launch(options, false);
  for (int i = 0; i < servers; ++i) {
    cluster::Launch spare = l;
    spare.spec.spare = true;
    spare.spec.id = platform::random_hex(5);
    spare.spec.directory = l.spec.directory.parent_path() / spare.spec.id;
    cluster::start_server(spare);
  }
  // The spare copies, made by the keeper program as the server user (under root too).
  platform::SpawnSpec s;
  s.argv = {l.keeper.string(), "refill", l.spec.cache.string(), l.spec.template_key,
            l.spec.template_dir.string()};
  s.as = l.as;
  s.cwd = "/";
  if (platform::wait_for(platform::spawn(s)) != 0) {
    throw Error(ExitCode::kFilesystem,
                fmt::format("could not prepare spare copies in {}", l.spec.cache.string()));
  }
}

Status status() {
  const Layout layout = Layout::locate();
  Status s;
  for (auto& server : cluster::running_servers(layout)) {
    if (pooled(server)) {
      s.items.push_back(
          Item{"server", server.info.id, server.info.directory.string(), 0,
               fmt::format("pre-started spare server, ready to claim (pid {})", server.info.pid),
               server.info.version});
    } else {
      s.servers.push_back(std::move(server.info));
    }
  }
  s.directory = layout.base.string();
  std::error_code ec;
  s.in_memory = fs::exists(layout.base, ec) && platform::on_tmpfs(layout.base);
  for (const auto& e : cluster::cache_entries(layout)) s.items.push_back(to_item(e));
  return s;
}

std::vector<Item> clear() {
  const Layout layout = Layout::locate();
  std::vector<Item> out;
  if (!layout.exists()) return out;
  // No start, spare copy or pre-started spare is under way meanwhile, and none begins.
  const auto lock = platform::FileLock::exclusive(*layout.cache_dir, cluster::kCacheLock);
  // Spare servers first: take their tokens (so that nobody claims them meanwhile), then stop them.
  for (const auto& name : layout.cache_dir->entries()) {
    if (name.rfind(cluster::kPoolPrefix, 0) != 0 || !layout.cache_dir->unlink(name)) continue;
    const fs::path dir = layout.run / name.substr(name.rfind('-') + 1);
    if (cluster::stop_server(dir, layout)) {
      out.push_back(Item{"server", dir.filename().string(), dir.string(), 0, "spare server", ""});
    }
  }
  // Overlays of running servers stay: their postgres binary lives there. So do the keeper copies
  // running keepers execute (they start their pools from beside themselves).
  std::vector<fs::path> in_use;
  for (const auto& server : cluster::running_servers(layout)) in_use.push_back(server.overlay);
  for (const auto& name : cluster::collect_keeper_copies(layout, "", false)) {
    out.push_back(Item{"keeper", name.substr(name.find('-') + 1), (layout.build / name).string(), 0,
                       "keeper programs", ""});
  }
  for (const auto& e : cluster::clear_cache(layout, in_use)) out.push_back(to_item(e));
  return out;
}

}  // namespace pg_unit_tests::cache
