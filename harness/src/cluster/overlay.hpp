// Serving extensions from their build output without root and without touching the system's
// PostgreSQL directories, the way `make check` uses tmp_install.
//
// PostgreSQL finds its share and lib directories relative to the postgres binary's real path
// (find_my_exec resolves symlinks, then make_relative_path). So an overlay is a private directory
// tree that mirrors the installation's paths: a copy of the postgres binary, and share/lib
// directories made of symlinks to the system's files plus copies of the extensions' files. Its
// bin directory holds the other programs too (copies of initdb, pg_ctl, pg_upgrade and pg_rewind,
// which find postgres beside themselves; links to the rest), so that tests which start their own
// clusters from PATH (PGXS's TAP tests) get the extensions too.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cluster/layout.hpp"
#include "pg_unit_tests/installation.hpp"

namespace pg_unit_tests::cluster {

// The files one extension contributes.
struct ExtensionFiles {
  fs::path origin;                    // the directory the user named
  std::vector<fs::path> share_files;  // *.control, *.sql (go to <sharedir>/extension)
  std::vector<fs::path> lib_files;    // *.so (go to <pkglibdir>)
  std::vector<std::string> names;     // extension names (control files' stems)
};

// Resolves a user's --extension DIR: a PGXS source directory (built with make and staged with
// `make install DESTDIR=...` into the cache), a DESTDIR staging tree, or a flat directory of
// .control/.sql/.so files. Throws Error(kExtension) with make's complaint or what is missing.
ExtensionFiles resolve_extension(const fs::path& dir, const Installation& inst,
                                 const Layout& layout);

// What a failed build says, for one line: the compiler's first "error:" lines and make's
// "*** ..." line (not the source excerpts and caret lines around them); the last lines if there
// are none of those.
std::string build_complaint(const std::string& output);

// Keeps a failed build's whole output in `log`; the part of the message that names it (empty if
// it could not be written).
std::string keep_log(const fs::path& log, const std::string& output);

// Adds the extension files of a flat directory (no recursion): *.control, NAME--*.sql, *.so.
void collect_extension_files(const fs::path& dir, ExtensionFiles& out);

struct Overlay {
  fs::path root;      // empty: no overlay, the system installation is used as it is
  fs::path postgres;  // the binary to start
};

// Builds or refreshes the overlay for this set of extensions (cached; files refreshed when the
// build output changes).
Overlay prepare_overlay(const Installation& inst, const std::vector<ExtensionFiles>& extensions,
                        const Layout& layout);

}  // namespace pg_unit_tests::cluster
