#include "cluster/template_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/dsm_segments.hpp"
#include "cluster/versions.hpp"
#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests::cluster {

namespace {

// Bump when the template's content or settings change, so old caches are not reused.
constexpr int kTemplateFormat = 3;

// Settings for throw-away servers: durability is off because nothing must survive a crash, and the
// server is small so that many can run side by side. Users override any of them with -o.
constexpr const char* kTemplateSettings = R"(
# --- pg_unit_tests: settings for ephemeral test servers (override with -o '-c name=value') ---
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
shared_buffers = 16MB
max_connections = 64
huge_pages = off
autovacuum = off
dynamic_shared_memory_type = mmap
listen_addresses = ''
unix_socket_permissions = 0700
checkpoint_timeout = 1d
log_checkpoints = off
# At start the postmaster dup()s and closes this many descriptors to count what it may use:
# 1000 by default costs 15-30 ms of every start; 128 is plenty for a test database.
max_files_per_process = 128
)";

// Unix sockets are protected by the 0700 directory they live in; TCP needs the password.
constexpr const char* kHba =
    R"(# pg_unit_tests: trust the private socket directory, passwords over TCP
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128      scram-sha-256
)";

// Writes one of initdb's files in the new template as root: through the directory's descriptor,
// never through a symlink, and only into the regular file initdb made for the server user.
void write_config(const platform::Dir& data, const std::string& name, const std::string& content,
                  bool append, uid_t owner) {
  platform::Fd fd = data.open_file(name, O_WRONLY | O_NONBLOCK | (append ? O_APPEND : O_TRUNC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0)
    platform::throw_filesystem_error("open", data / name, errno);
  if (!S_ISREG(st.st_mode) || st.st_uid != owner || st.st_nlink != 1) {
    throw Error(ExitCode::kFilesystem,
                fmt::format("{} is not the file initdb made: the template is not used",
                            (data / name).string()));
  }
  if (!platform::write_all(fd.get(), content)) {
    platform::throw_filesystem_error("write", data / name, errno);
  }
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::string describe_migrated(const nlohmann::json& j) {
  std::vector<std::string> parts;
  std::vector<std::string> files;
  for (const auto& f : j.value("files", std::vector<std::string>{})) {
    files.push_back(fs::path(f).filename().string());
  }
  if (!files.empty()) {
    std::string list;
    for (const auto& f : files) list += (list.empty() ? "" : ", ") + f;
    parts.push_back(fmt::format("--init {} file(s): {}", files.size(), list));
  }
  if (const std::string cmd = j.value("command", ""); !cmd.empty()) {
    parts.push_back(fmt::format("--init-command '{}' in {}", cmd, j.value("directory", "?")));
  }
  for (const auto& k : j.value("key_paths", std::vector<std::string>{})) {
    parts.push_back("--init-key " + k);
  }
  std::string out = "PostgreSQL " + j.value("version", "?") + "; ";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

std::string stable_hash(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

std::string template_key(const Installation& inst, const TemplateConfig& config) {
  // The major version in front, for people reading the cache (no '-' or '.': names are split
  // there).
  return fmt::format(
      "pg{}_{}", inst.major,
      stable_hash(fmt::format("{}|{}|{}|{}|{}", kTemplateFormat, inst.bindir.string(), inst.version,
                              config.locale, config.encoding))
          .substr(0, 11));
}

Template ensure_template(const Installation& inst, const TemplateConfig& config,
                         const Layout& layout, const platform::FileLock& cache_lock) {
  const platform::Dir& cache = *layout.cache_dir;
  Template t;
  t.key = template_key(inst, config);
  const std::string name = "tmpl-" + t.key;
  t.dir = layout.cache / name;
  if (auto st = cache.stat(name); st && S_ISDIR(st->st_mode)) return t;

  auto lock = platform::FileLock::exclusive(cache, name + ".lock");
  if (auto st = cache.stat(name); st && S_ISDIR(st->st_mode)) return t;  // built meanwhile
  // Left-overs of builds that were killed: we hold the lock, which every process of a build holds
  // until it ends (initdb inherits it), so nobody is using them.
  for (const auto& entry : cache.entries()) {
    if (starts_with(entry, name + ".building-")) cache.remove_tree(entry);
  }
  const std::string tmp_name = fmt::format("{}.building-{}", name, getpid());
  const fs::path tmp = layout.cache / tmp_name;
  std::vector<std::string> initdb = {inst.bin("initdb").string(),
                                     "-D",
                                     tmp.string(),
                                     "-U",
                                     "postgres",
                                     "-A",
                                     "trust",
                                     "--no-sync",
                                     "--no-instructions",
                                     "-E",
                                     config.encoding,
                                     "--locale=" + config.locale};
  for (auto& option : initdb_options(inst.major)) initdb.push_back(std::move(option));
  const std::time_t initdb_started = time(nullptr);
  // Both locks go to initdb as descriptors 3 and 4 (not close-on-exec; its backend inherits them
  // too): a start killed meanwhile leaves an initdb that goes on, and it keeps them held until it
  // and its backend end.
  platform::RunResult r =
      platform::run(initdb, layout.user.switch_to, "/", {{"LC_ALL", ""}, {"LANG", ""}}, 0,
                    {{lock.fd(), 3}, {cache_lock.fd(), 4}});
  if (r.status != 0) {
    cache.remove_tree(tmp_name);
    // Its backends use POSIX shared memory; one that aborted (a PANIC: the disk is full) or was
    // killed left its segments in /dev/shm.
    remove_abandoned_segments(layout.user.uid, initdb_started);
    if (r.output.find("No space left") != std::string::npos) {
      throw Error(ExitCode::kFilesystem,
                  fmt::format("initdb in {} failed: the disk is full (free some space or set "
                              "PG_UNIT_TESTS_DIR)",
                              layout.cache.string()));
    }
    throw Error(ExitCode::kServerStart,
                fmt::format("initdb failed (locale '{}', encoding '{}'): {}", config.locale,
                            config.encoding, platform::last_lines(r.output, 2)));
  }
  // Drop the WAL that initdb left behind (the cluster was shut down cleanly): less to copy. WAL
  // continues at 0/2000000 (segment 32 of 1 MB), where a fresh cluster with 16 MB segments already
  // is: tests see WAL positions (test_decoding checks restart_lsn > 0/1000000).
  r = platform::run(
      {inst.bin("pg_resetwal").string(), "-l", "000000010000000000000020", "-D", tmp.string()},
      layout.user.switch_to, "/", {}, 0, {{lock.fd(), 3}, {cache_lock.fd(), 4}});
  if (r.status != 0) {
    cache.remove_tree(tmp_name);
    throw Error(ExitCode::kServerStart, fmt::format("pg_resetwal on the new template failed: {}",
                                                    platform::last_lines(r.output, 2)));
  }
  try {
    const auto data = cache.open_dir(tmp_name);
    if (!data) platform::throw_filesystem_error("open", tmp, ENOENT);
    write_config(*data, "postgresql.conf",
                 std::string(kTemplateSettings) + template_settings(inst.major), true,
                 layout.user.uid);
    write_config(*data, "pg_hba.conf", kHba, false, layout.user.uid);
  } catch (...) {
    cache.remove_tree(tmp_name);
    throw;
  }
  if (!cache.rename(tmp_name, name)) {
    const int e = errno;
    cache.remove_tree(tmp_name);
    platform::throw_filesystem_error("publish the template", t.dir, e);
  }
  nlohmann::json meta = {{"key", t.key},
                         {"bindir", inst.bindir.string()},
                         {"version", inst.version},
                         {"locale", config.locale},
                         {"encoding", config.encoding},
                         {"created", static_cast<long long>(time(nullptr))}};
  cache.write_file(name + ".json", meta.dump() + "\n", 0644);
  return t;
}

bool claim_spare(const platform::Dir& cache, const std::string& key, const fs::path& target) {
  const std::string prefix = "spare-" + key + "-";
  for (const auto& name : cache.entries()) {
    if (!starts_with(name, prefix) || name.find('.') != std::string::npos) continue;
    // One rename decides between claimers; another start may take this one first.
    if (renameat(cache.fd(), name.c_str(), AT_FDCWD, target.c_str()) != 0) continue;
    std::error_code ec;
    if (fs::exists(target / "global" / "pg_control", ec)) return true;
    platform::remove_tree(target);  // not a complete copy: never use it
  }
  return false;
}

void refill_spares(const platform::Dir& cache, const Template& tmpl, int target) {
  auto lock = platform::FileLock::try_exclusive(cache, "spare-" + tmpl.key + ".lock");
  if (!lock.held()) return;  // someone else is topping up
  const std::string prefix = "spare-" + tmpl.key + "-";
  int have = 0;
  for (const auto& name : cache.entries()) {
    if (!starts_with(name, prefix)) continue;
    if (name.find('.') != std::string::npos) {
      cache.remove_tree(name);  // a copy that was interrupted
    } else {
      ++have;
    }
  }
  for (; have < target; ++have) {
    const std::string name = prefix + platform::random_hex(6);
    const std::string tmp = name + ".copying";
    try {
      platform::copy_tree(tmpl.dir, cache / tmp);
    } catch (...) {
      cache.remove_tree(tmp);
      throw;
    }
    if (!cache.rename(tmp, name)) {
      cache.remove_tree(tmp);
      return;
    }
  }
}

std::vector<CacheEntry> cache_entries(const Layout& layout) {
  std::vector<CacheEntry> out;
  if (!layout.exists()) return out;
  for (const platform::Dir* dir : {layout.cache_dir.get(), layout.build_dir.get()}) {
    for (const auto& name : dir->entries()) {
      const auto st = dir->stat(name);
      if (!st || !S_ISDIR(st->st_mode) || name.find('.') != std::string::npos) continue;
      CacheEntry c;
      c.path = dir->path() / name;
      const size_t dash = name.find('-');
      c.kind = name.substr(0, dash);
      if (c.kind == "tmpl") {
        c.kind = "template";
        c.key = name.substr(dash + 1);
        if (auto meta = dir->read_file(name + ".json")) {
          auto j = nlohmann::json::parse(*meta, nullptr, false);
          if (!j.is_discarded()) {
            c.version = j.value("version", "");
            c.detail = fmt::format("PostgreSQL {} ({}), locale {}, encoding {}",
                                   j.value("version", "?"), j.value("bindir", "?"),
                                   j.value("locale", "?"), j.value("encoding", "?"));
          }
        }
      } else if (c.kind == "mtmpl") {
        c.kind = "migrated";
        c.key = name.substr(dash + 1);
        if (auto meta = dir->read_file(name + ".json")) {
          auto j = nlohmann::json::parse(*meta, nullptr, false);
          if (!j.is_discarded()) {
            c.detail = describe_migrated(j);
            c.description = std::move(j);
          }
        }
        if (auto st = dir->stat(name + ".json")) c.last_used = st->st_mtime;
      } else if (c.kind == "spare") {
        // spare-<key>-<id>: keys of plain (16) and migrated (32) templates differ in length.
        c.key = name.substr(dash + 1, name.rfind('-') - dash - 1);
        c.detail = "data directory copy, ready to claim";
        if (auto meta = dir->read_file("tmpl-" + c.key + ".json")) {
          auto j = nlohmann::json::parse(*meta, nullptr, false);
          if (!j.is_discarded()) c.version = j.value("version", "");
        }
        if (!c.version.empty()) c.detail = "PostgreSQL " + c.version + " " + c.detail;
      } else if (c.kind == "build") {
        // extension_build.cpp: the pg_unit_tests extension built for one installation.
        c.key = name.substr(dash + 1);
        c.detail = "the pg_unit_tests extension built out of tree";
        if (auto meta = platform::read_file(c.path / "BUILT-FOR.json")) {
          auto j = nlohmann::json::parse(*meta, nullptr, false);
          if (!j.is_discarded()) {
            c.version = j.value("version", "");
            c.detail = fmt::format("the pg_unit_tests extension for PostgreSQL {} ({}), from {}",
                                   c.version, j.value("bindir", "?"), j.value("source", "?"));
          }
        }
      } else if (c.kind == "ext") {
        c.kind = "staging";
        c.key = name.substr(dash + 1);
        c.detail = "an --extension source directory's make install DESTDIR output";
      } else if (c.kind == "keeper") {
        // keeper_client.cpp: root's copy of the keeper and pool programs for the server user.
        c.key = name.substr(dash + 1);
        c.detail = "the keeper and pool programs, copied where the server user can run them";
      } else if (c.kind == "overlay") {
        c.key = name.substr(dash + 1);
        if (auto d = platform::read_file(c.path / "SOURCES")) {
          c.detail = "extensions from " + *d;
          while (!c.detail.empty() && c.detail.back() == '\n') c.detail.pop_back();
          std::replace(c.detail.begin(), c.detail.end(), '\n', ' ');
        }
      } else {
        continue;
      }
      c.bytes = platform::tree_size(c.path);
      out.push_back(std::move(c));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const CacheEntry& a, const CacheEntry& b) { return a.path < b.path; });
  return out;
}

std::vector<CacheEntry> clear_cache(const Layout& layout, const std::vector<fs::path>& in_use) {
  std::vector<CacheEntry> removed;
  // Builds of templates that were killed, and the migrated templates' locks: the caller holds the
  // cache lock exclusively, so no start holds or waits for one of them, and no initdb of a killed
  // start still runs (it inherited its start's shared hold).
  const platform::Dir& cache = *layout.cache_dir;
  for (const auto& name : cache.entries()) {
    if (!starts_with(name, "mtmpl-") && !starts_with(name, "tmpl-")) continue;
    if (name.find(".building-") != std::string::npos) cache.remove_tree(name);
    if (starts_with(name, "mtmpl-") && name.size() > 5 &&
        name.compare(name.size() - 5, 5, ".lock") == 0) {
      cache.unlink(name);
    }
  }
  for (auto& c : cache_entries(layout)) {
    // Keeper copies go by their own rule (collect_keeper_copies: the programs running from one
    // hold its lock).
    if (c.kind == "keeper") continue;
    if (c.kind == "overlay" && std::find(in_use.begin(), in_use.end(), c.path) != in_use.end()) {
      continue;
    }
    const platform::Dir& dir = c.kind == "overlay" || c.kind == "staging" || c.kind == "build"
                                   ? *layout.build_dir
                                   : *layout.cache_dir;
    // Out of the way first (one rename), so that nobody starts to use it while it goes.
    const std::string trash = fmt::format(".trash-{}", platform::random_hex(6));
    if (dir.rename(c.path.filename(), trash)) {
      dir.remove_tree(trash);
      if (c.kind == "template") dir.unlink("tmpl-" + c.key + ".json");
      if (c.kind == "migrated") dir.unlink("mtmpl-" + c.key + ".json");
      if (c.kind == "staging") dir.unlink("ext-" + c.key + ".generation");
      removed.push_back(std::move(c));
    }
  }
  return removed;
}

}  // namespace pg_unit_tests::cluster
