// Migrated templates: the plain template (template_cache.hpp) with the user's migrations applied
// to its default database, made once per content and cached beside it.
//
// A start with ServerOptions::init/init_command resolves the sources, hashes them (names and
// contents, SHA-256) together with what already keys its servers (template, binary, settings,
// extensions, --create), and uses cache/mtmpl-<key> as its template: spares, spare copies and
// pools work as for a plain template, because they are keyed by the template key. A missing
// migrated template is built under cache/mtmpl-<key>.lock (held exclusively; starts of that key
// hold it shared while they copy it, so garbage collection never removes one in use):
//
//   1. a keeper starts an owned server from the plain template (the starter's settings and
//      extensions), the --create extensions are created, psql applies the files, the command runs;
//   2. the keeper is asked to "harvest": postgres shuts down cleanly and its data directory is
//      renamed to cache/mtmpl-<key>.building-<pid> (renameat2 RENAME_NOREPLACE: never over
//      anything), then the keeper removes the rest and exits;
//   3. pg_resetwal drops the migration's WAL (less to copy per server), the description
//      (mtmpl-<key>.json) is written, and one rename publishes the template.
//
// A failure anywhere removes what was made (the keeper removes its server; the building entry
// goes), so nothing half-made is ever used; a build that was killed leaves a building entry that
// the next build of the key (or `cache clear`) removes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cluster/init_sources.hpp"
#include "cluster/launch.hpp"
#include "cluster/layout.hpp"
#include "cluster/overlay.hpp"
#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cluster {

inline constexpr const char* kMigratedPrefix = "mtmpl-";

// Points the launch at the migrated template of these sources, building it if missing; clears
// l.create (it is part of the template). `extensions` (their files' sizes and times) join the key.
// Throws Error(kExtension) quoting psql's or the command's error when the migration fails.
void use_migrated_template(Launch& l, const InitSources& sources, const Installation& inst,
                           const std::vector<ExtensionFiles>& extensions, const Layout& layout,
                           bool tcp);

// The age/size policy (README "Migrated templates"): migrated templates unused for longer than
// $PG_UNIT_TESTS_INIT_MAX_AGE seconds (default 7 days) go, then the least recently used while all
// of them (with their spare copies) take more than $PG_UNIT_TESTS_INIT_MAX_MB (default 1024);
// never `keep` and never one a start is using. Returns the names removed.
std::vector<std::string> collect_migrated_templates(const Layout& layout,
                                                    const std::string& keep = {});

}  // namespace pg_unit_tests::cluster
