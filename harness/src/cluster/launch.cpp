#include "cluster/launch.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/migration.hpp"
#include "cluster/overlay.hpp"
#include "cluster/own_extension.hpp"
#include "cluster/run_dir.hpp"
#include "cluster/settings.hpp"
#include "cluster/template_cache.hpp"
#include "platform/fs.hpp"
#include "platform/trace.hpp"
#include "pq/connection.hpp"

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

namespace {

// pg_config runs in about 5 ms; remember its answers per binary (keyed by modification times).
Installation find_installation(const std::string& pg_config, const Layout& layout) {
  std::string origin;
  const fs::path config = Installation::locate(pg_config, &origin);
  struct stat a {
  }, b{};
  if (stat(config.c_str(), &a) != 0) return Installation::describe(config, origin);
  const fs::path memo =
      layout.build / fmt::format("installation-{}.json",
                                 stable_hash(fmt::format("{}|{}.{}", config.string(),
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

}  // namespace

Launch prepare_launch(const ServerOptions& o, bool owned) {
  platform::trace("prepare");
  Layout layout = Layout::prepare();
  auto cache_lock = std::make_shared<platform::FileLock>(
      platform::FileLock::shared(*layout.cache_dir, kCacheLock));
  collect_garbage(layout);
  platform::trace("layout ready, garbage collected");
  Installation inst = find_installation(o.pg_config, layout);
  platform::trace("installation found");
  TemplateConfig tc;
  if (!o.locale.empty()) tc.locale = o.locale;
  if (!o.encoding.empty()) tc.encoding = o.encoding;

  if (!o.preload_pg_unit_tests && !o.freeze.empty()) {
    throw Error(ExitCode::kUsage,
                "--freeze needs the pg_unit_tests extension, which --stock leaves out: give one "
                "of them, not both");
  }
  const InitSources init = resolve_init(o);  // usage errors before anything is built
  std::vector<ExtensionFiles> extensions;
  bool preload = false;
  if (o.preload_pg_unit_tests) {
    OwnExtension own = own_extension(inst, layout);
    preload = own.preload;
    if (own.build) extensions.push_back(std::move(*own.build));
  }
  const auto settings = compose_settings({o.settings, preload, o.freeze});
  for (const auto& dir : o.extensions) extensions.push_back(resolve_extension(dir, inst, layout));
  const Overlay overlay = prepare_overlay(inst, extensions, layout);
  platform::trace("overlay ready");
  const Template tmpl = ensure_template(inst, tc, layout, *cache_lock);
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
  s.owned = owned;
  if (!owned) s.owner_pid = o.owner_pid;
  l.create = o.create;
  l.as = layout.user.switch_to;
  l.keeper_lock = std::make_shared<platform::FileLock>();
  l.keeper = keeper_program(layout, l.keeper_lock.get());
  l.server_uid = layout.user.uid;
  l.cache_dir = layout.cache_dir;
  l.cache_lock = std::move(cache_lock);
  if (!init.empty()) use_migrated_template(l, init, inst, extensions, layout, o.tcp);
  // Servers that differ only in what is decided at claim time (owner, idle timeout) share a pool.
  std::string identity =
      fmt::format("{}|{}|{}|{}", s.postgres.string(), s.template_key, s.version, layout.user.uid);
  for (const auto& setting : s.settings) identity += "|" + setting;
  s.pool_key = stable_hash(identity);
  if (const char* idle = std::getenv("PG_UNIT_TESTS_SPARE_IDLE"); idle && *idle) {
    s.spare_idle = std::max(1, std::atoi(idle));
  }
  return l;
}

// Takes a pre-started spare server from the pool, if one with this configuration is ready: one
// unlink(2) of its token decides between concurrent claimers, then its keeper is told who owns it
// now. TCP servers (a password each) and servers with --create are never pooled.
namespace {

std::optional<Started> claim_spare_server(const Launch& l) {
  const KeeperSpec& spec = l.spec;
  if (spec.spare || spec.tcp || !l.create.empty()) return std::nullopt;
  const std::string prefix = std::string(kPoolPrefix) + spec.pool_key + "-";
  for (const auto& name : l.cache_dir->entries()) {
    if (name.compare(0, prefix.size(), prefix) != 0 || !l.cache_dir->unlink(name)) continue;
    const fs::path dir = spec.directory.parent_path() / name.substr(prefix.size());
    auto keeper = KeeperConnection::connect(dir, l.server_uid);
    if (!keeper) continue;  // a stale token; garbage collection takes the rest
    Request claim{"claim", spec.owned, spec.idle_timeout, spec.owner_pid};
    try {
      Reply r = keeper->request(claim, std::chrono::seconds(10));
      if (!r.ok || !r.status) continue;
      platform::trace("spare server claimed");
      Started s;
      s.info = std::move(r.status->info);
      fill_uri(s.info);
      if (spec.owned) s.control.emplace(std::move(*keeper));
      return s;
    } catch (const Error&) {
      continue;
    }
  }
  return std::nullopt;
}

}  // namespace

void configure_server(const ServerInfo& info, const Launch& l) {
  pq::Connection c(info.socket_conninfo("postgres"), {}, ExitCode::kServerStart);
  c.quiet();
  if (l.spec.tcp) {
    // The password is hex, so it needs no quoting; it is hashed with SCRAM before storage.
    c.query(fmt::format("ALTER ROLE postgres PASSWORD '{}'", l.spec.password), {},
            ExitCode::kServerStart);
  }
  for (const auto& name : l.create) {
    try {
      c.query(fmt::format("CREATE EXTENSION IF NOT EXISTS {} CASCADE", c.quote_identifier(name)),
              {}, ExitCode::kExtension);
    } catch (const Error& e) {
      throw Error(ExitCode::kExtension,
                  fmt::format("CREATE EXTENSION {} failed: {}", name, e.what()));
    }
  }
}

Started start_server(const Launch& l) {
  if (auto claimed = claim_spare_server(l)) return std::move(*claimed);
  Launched k = launch_keeper(l.spec, l.as, l.keeper);
  Started out;
  out.info = std::move(k.status.info);
  fill_uri(out.info);
  out.keeper_child = k.child;
  if (l.spec.tcp || !l.create.empty()) {
    try {
      configure_server(out.info, l);
    } catch (const Error&) {
      k.connection.stop();
      if (k.child > 0) platform::wait_for(k.child);
      throw;
    }
  }
  if (l.spec.owned) out.control.emplace(std::move(k.connection));
  return out;
}

}  // namespace pg_unit_tests::cluster
