// The template cache: initdb runs once per configuration, never once per server.
//
// A template is a freshly initialised, trimmed, cleanly shut down data directory with the
// harness's settings for throw-away servers. A server's data directory is a copy of it; to keep the
// copy off the critical path, keepers prepare "spare" copies after a start, and a start claims one
// with a single rename(2) (only one claimer can win).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/layout.hpp"
#include "platform/dir.hpp"
#include "platform/fs.hpp"
#include "pg_unit_tests/installation.hpp"

namespace pg_unit_tests::cluster {

struct TemplateConfig {
  std::string locale = "C.UTF-8";
  std::string encoding = "UTF8";
};

struct Template {
  std::string key;
  fs::path dir;
};

// Spare copies kept ready per template.
inline constexpr int kSpareTarget = 2;

// The lock that keeps `cache clear` and everything that uses the cache apart: a start holds it
// shared from preparing until its keeper reported (a running server needs neither template nor
// spare any more, and clear spares the overlays of running servers); spare copies and pre-started
// spares are made under it shared, and give up when clear holds it; clear holds it exclusively.
inline constexpr const char* kCacheLock = "cache.lock";

std::string template_key(const Installation& inst, const TemplateConfig& config);

// Returns the template for this configuration, building it (initdb, trim) under a lock if missing.
// Concurrent callers wait for one build; a build killed half-way leaves nothing that is used.
// `cache_lock` is the caller's shared hold of the cache lock: initdb inherits it (and the build's
// lock), so that when the caller dies mid-build, `cache clear` and the next build wait for the
// orphaned initdb and its backend instead of removing their files from under them.
Template ensure_template(const Installation& inst, const TemplateConfig& config,
                         const Layout& layout, const platform::FileLock& cache_lock);

// Moves a spare copy of the template to `target` (which must not exist); false if none was left.
bool claim_spare(const platform::Dir& cache, const std::string& key, const fs::path& target);

// Tops the spare copies up to `target` (skipped if another process is already doing it).
void refill_spares(const platform::Dir& cache, const Template& tmpl, int target = kSpareTarget);

struct CacheEntry {
  std::string kind;  // "template", "migrated", "spare", "overlay", "staging", "build"
  std::string key;
  fs::path path;
  std::uintmax_t bytes = 0;
  std::string detail;
  std::string version;         // the PostgreSQL version it is for, when known
  long long last_used = 0;     // migrated: when a start last used it (seconds since the epoch)
  nlohmann::json description;  // migrated: its mtmpl-<key>.json
};
std::vector<CacheEntry> cache_entries(const Layout& layout);

// Removes templates, spares, overlays (but not the overlays in `in_use`), --extension staging and
// the extension's builds per installation. Returns what was removed.
std::vector<CacheEntry> clear_cache(const Layout& layout, const std::vector<fs::path>& in_use);

// A migrated template's key sources in one line, from its description (cache/mtmpl-<key>.json).
std::string describe_migrated(const nlohmann::json& description);

// FNV-1a: a stable hash for cache keys (std::hash is not stable across builds).
std::string stable_hash(const std::string& text);

}  // namespace pg_unit_tests::cluster
