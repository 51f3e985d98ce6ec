#include "cluster/migration.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/keeper_client.hpp"
#include "cluster/run_dir.hpp"
#include "cluster/template_cache.hpp"
#include "platform/sha256.hpp"
#include "pg_unit_tests/command.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "platform/trace.hpp"
#include "pq/connection.hpp"

namespace pg_unit_tests::cluster {

namespace {

// Bump when what a migrated template holds changes for the same sources.
constexpr int kMigratedFormat = 1;
// Hex digits of the key in names: 128 bits of SHA-256.
constexpr size_t kKeyLength = 32;

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Runs a migration step in the caller's directory and captures its output; it gets SIGKILL if we
// die (a killed start leaves no migration running against a server that is gone).
platform::RunResult run_step(const std::vector<std::string>& argv, const fs::path& cwd,
                             const Environment& env) {
  return platform::run(argv, std::nullopt, cwd, env, SIGKILL);
}

// psql's own error line ("psql:/path/002.sql:3: ERROR:  ..."), else the output's last lines.
std::string complaint(const std::string& output, size_t lines) {
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    for (const char* mark : {"ERROR:", "FATAL:", "error:", "PANIC:"}) {
      if (line.find(mark) != std::string::npos) return line;
    }
    start = end + 1;
  }
  const std::string tail = platform::last_lines(output, lines);
  return tail.empty() ? "no output" : tail;
}

// Step 1: the migration itself, on a server of our own that is then harvested.
void migrate(const ServerInfo& info, const Launch& l, const InitSources& src,
             const Installation& inst, bool tcp) {
  configure_server(info, l);  // the TCP password and --create
  Environment env = connection_environment(info.uri);
  // Nothing of the caller's libpq set-up may point the migration elsewhere or change its session.
  for (const char* name : {"PGHOSTADDR", "PGSERVICE", "PGSERVICEFILE", "PGOPTIONS", "PGSSLMODE"}) {
    env.emplace_back(name, "");
  }
  if (!src.files.empty()) {
    std::vector<std::string> argv = {inst.bin("psql").string(), "-X", "-q", "-w", "-v",
                                     "ON_ERROR_STOP=1"};
    for (const auto& f : src.files) {
      argv.push_back("-f");
      argv.push_back(f.string());
    }
    platform::trace("migration: psql");
    const auto r = run_step(argv, src.directory, env);
    if (r.status != 0) {
      throw Error(ExitCode::kExtension,
                  fmt::format("--init failed, nothing was cached: {}", complaint(r.output, 2)));
    }
  }
  if (!src.command.empty()) {
    platform::trace("migration: command");
    const auto r = run_step({"/bin/sh", "-c", src.command}, src.directory, env);
    if (r.status != 0) {
      throw Error(ExitCode::kExtension,
                  fmt::format("--init-command '{}' failed (exit status {}), nothing was cached: {}",
                              src.command, r.status, complaint(r.output, 3)));
    }
  }
  if (tcp) {
    // Servers made from the template get their own password (or none).
    pq::Connection c(info.socket_conninfo("postgres"), {}, ExitCode::kServerStart);
    c.query("ALTER ROLE postgres PASSWORD NULL", {}, ExitCode::kServerStart);
  }
}

nlohmann::json describe(const InitSources& src, const std::string& key, const Launch& l) {
  nlohmann::json files = nlohmann::json::array(), keys = nlohmann::json::array();
  for (const auto& f : src.files) files.push_back(f.string());
  for (const auto& k : src.key_paths) keys.push_back(k.string());
  return {{"key", key},
          {"files", files},
          {"command", src.command},
          {"key_paths", keys},
          {"directory", src.command.empty() ? "" : src.directory.string()},
          {"template", l.spec.template_key},
          {"version", l.spec.version},
          {"create", l.create},
          {"created", static_cast<long long>(time(nullptr))}};
}

// Steps 1 to 3 of migration.hpp; the caller holds the key's lock exclusively.
void build(const std::string& name, const std::string& key, const Launch& l, const InitSources& src,
           const std::string& digest, const Installation& inst, const Layout& layout, bool tcp) {
  const platform::Dir& cache = *layout.cache_dir;
  for (const auto& entry : cache.entries()) {
    if (entry.rfind(name + ".building-", 0) == 0) cache.remove_tree(entry);  // a killed build's
  }
  const std::string building = fmt::format("{}.building-{}", name, getpid());
  KeeperSpec spec = l.spec;
  spec.id = platform::random_hex(5);
  spec.directory = layout.run / spec.id;
  spec.owned = true;
  spec.owner_pid = 0;
  spec.spare = false;
  spec.idle_timeout = 0;
  spec.tcp = tcp;
  spec.password = tcp ? platform::random_hex(16) : "";
  platform::trace("migration: starting its server");
  Launched k = launch_keeper(spec, l.as, l.keeper);
  const auto end_keeper = [&] {
    if (k.child > 0) platform::wait_for(std::exchange(k.child, -1));
  };
  try {
    ServerInfo info = k.status.info;
    info.password = spec.password;
    fill_uri(info);
    Launch for_configure = l;
    for_configure.spec = spec;
    migrate(info, for_configure, src, inst, tcp);
    if (init_digest(src) != digest) {
      throw Error(ExitCode::kExtension,
                  "the --init files changed while they were applied, nothing was cached: start "
                  "again");
    }
    Request harvest;
    harvest.op = "harvest";
    harvest.target = building;
    k.connection.request(harvest, std::chrono::seconds(180)).check();
  } catch (...) {
    k.connection.stop();
    end_keeper();
    cache.remove_tree(building);
    throw;
  }
  end_keeper();
  platform::trace("migration: harvested");
  try {
    // The migration's WAL is of no use to a copy: drop it (the shutdown was clean).
    const auto r =
        platform::run({inst.bin("pg_resetwal").string(), "-D", (layout.cache / building).string()},
                      layout.user.switch_to, "/");
    if (r.status != 0) {
      throw Error(ExitCode::kServerStart,
                  fmt::format("pg_resetwal on the migrated template failed: {}",
                              platform::last_lines(r.output, 2)));
    }
    nlohmann::json meta = describe(src, key, l);
    meta["bytes"] = platform::tree_size(layout.cache / building);
    cache.write_file(name + ".json", meta.dump() + "\n", 0644);
    if (!cache.rename(building, name)) {
      platform::throw_filesystem_error("publish the migrated template", layout.cache / name, errno);
    }
  } catch (...) {
    cache.remove_tree(building);
    cache.unlink(name + ".json");
    throw;
  }
}

bool is_template_dir(const platform::Dir& cache, const std::string& name) {
  const auto st = cache.stat(name);
  return st && S_ISDIR(st->st_mode);
}

// Removes one entry of the cache: out of the way first (one rename), then the tree.
void discard(const platform::Dir& cache, const std::string& name) {
  const std::string trash = ".trash-" + platform::random_hex(6);
  if (cache.rename(name, trash)) cache.remove_tree(trash);
}

}  // namespace

void use_migrated_template(Launch& l, const InitSources& src, const Installation& inst,
                           const std::vector<ExtensionFiles>& extensions, const Layout& layout,
                           bool tcp) {
  const std::string digest = init_digest(src);
  platform::Sha256 h;
  h.field(std::to_string(kMigratedFormat));
  for (const std::string& part :
       {l.spec.template_key, l.spec.postgres.string(), l.spec.version, digest}) {
    h.field(part);
  }
  for (const auto& s : l.spec.settings) h.field("setting=" + s);
  for (const auto& c : l.create) h.field("create=" + c);
  // The overlay keeps its path when an extension is rebuilt: its files' sizes and times count.
  for (const auto& e : extensions) {
    for (const auto* list : {&e.share_files, &e.lib_files}) {
      for (const auto& f : *list) {
        struct stat st {};
        stat(f.c_str(), &st);
        h.field(fmt::format("{}|{}|{}.{}", f.string(), st.st_size, st.st_mtim.tv_sec,
                            st.st_mtim.tv_nsec));
      }
    }
  }
  const std::string key = h.hex().substr(0, kKeyLength);
  const std::string name = kMigratedPrefix + key;
  const platform::Dir& cache = *layout.cache_dir;
  for (int attempt = 0;; ++attempt) {
    auto lock =
        std::make_shared<platform::FileLock>(platform::FileLock::shared(cache, name + ".lock"));
    if (is_template_dir(cache, name)) {
      // Last use, for the age policy.
      utimensat(cache.fd(), (name + ".json").c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
      l.spec.template_dir = layout.cache / name;
      l.spec.template_key = key;
      l.template_lock = std::move(lock);
      l.create.clear();
      platform::trace("migrated template ready");
      return;
    }
    if (attempt >= 3) {
      throw Error(ExitCode::kFilesystem,
                  fmt::format("the migrated template {} vanished three times as it was made",
                              (layout.cache / name).string()));
    }
    lock.reset();
    bool built = false;
    {
      const auto exclusive = platform::FileLock::exclusive(cache, name + ".lock");
      if (!is_template_dir(cache, name)) {
        build(name, key, l, src, digest, inst, layout, tcp);
        built = true;
      }
    }
    if (built) collect_migrated_templates(layout, name);
  }
}

std::vector<std::string> collect_migrated_templates(const Layout& layout, const std::string& keep) {
  std::vector<std::string> removed;
  if (!layout.exists()) return removed;
  const platform::Dir& cache = *layout.cache_dir;
  const long long max_age = std::atoll(env_or("PG_UNIT_TESTS_INIT_MAX_AGE", "604800"));
  const std::uintmax_t max_bytes =
      static_cast<std::uintmax_t>(std::atoll(env_or("PG_UNIT_TESTS_INIT_MAX_MB", "1024"))) << 20;
  struct Candidate {
    std::string name, key;
    long long used = 0;
    std::uintmax_t bytes = 0;
  };
  std::vector<Candidate> all;
  const auto entries = cache.entries();
  for (const auto& name : entries) {
    if (name.rfind(kMigratedPrefix, 0) != 0 || name.find('.') != std::string::npos ||
        !is_template_dir(cache, name)) {
      continue;
    }
    Candidate c{name, name.substr(std::string(kMigratedPrefix).size())};
    if (auto st = cache.stat(name + ".json")) c.used = st->st_mtime;
    std::uintmax_t one = 0;
    if (auto meta = cache.read_file(name + ".json")) {
      auto j = nlohmann::json::parse(*meta, nullptr, false);
      if (!j.is_discarded()) one = j.value("bytes", std::uintmax_t{0});
    }
    const std::string spare = "spare-" + c.key + "-";
    c.bytes = one;
    for (const auto& e : entries) {
      if (e.rfind(spare, 0) == 0) c.bytes += one;
    }
    all.push_back(std::move(c));
  }
  std::sort(all.begin(), all.end(),
            [](const Candidate& a, const Candidate& b) { return a.used > b.used; });
  const long long now = time(nullptr);
  std::uintmax_t total = 0;
  for (const auto& c : all) {
    total += c.bytes;
    if (c.name == keep || (now - c.used <= max_age && total <= max_bytes)) continue;
    // A start of this key holds its lock shared while it copies: then it stays.
    const auto lock = platform::FileLock::try_exclusive(cache, c.name + ".lock");
    if (!lock.held()) continue;
    discard(cache, c.name);
    cache.unlink(c.name + ".json");
    for (const auto& e : entries) {
      if (e.rfind("spare-" + c.key + "-", 0) == 0) discard(cache, e);
    }
    total -= c.bytes;
    removed.push_back(c.name);
  }
  return removed;
}

}  // namespace pg_unit_tests::cluster
