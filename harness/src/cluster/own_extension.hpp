// This project's own extension, pg_unit_tests (its control file, SQL script and library): where
// the harness finds a build of it to serve (from an overlay, without installing anything), and
// whether a server gets it preloaded. The one place that decides; the lookup, in order:
//
//   1. $PG_UNIT_TESTS_EXTENSION_DIR: a directory with a build of the extension, either this
//      repository's tree built in place (extension/pg_unit_tests.control, the extension/*.sql
//      script, pg_unit_tests.so at the top) or one flat directory of those files;
//   2. <directory of the running program>/../share/pg_unit_tests/extension: the CMake build tree
//      links it to the source tree it was configured from, so the CLI, tests and benchmarks of a
//      build tree serve the extension built there;
//   3. none found: the extension installed into PostgreSQL (make install), if it is, is used as
//      it is, without an overlay.
//
// A build found in a source tree serves the installation it was made for (extension/.built-for);
// a server of another installation gets a build of its own (extension_build.hpp).
#pragma once

#include <filesystem>
#include <optional>

#include "cluster/layout.hpp"
#include "cluster/overlay.hpp"
#include "pg_unit_tests/installation.hpp"

namespace pg_unit_tests::cluster {

struct OwnExtension {
  std::optional<ExtensionFiles> build;  // a build to serve from an overlay (lookup 1 or 2)
  bool preload = false;                 // a library to preload: the build's, or the installed one
};

// Throws Error(kExtension) when $PG_UNIT_TESTS_EXTENSION_DIR is set but holds no build, or when
// no build for `inst` can be made (own_extension_for).
OwnExtension own_extension(const Installation& inst, const Layout& layout);

}  // namespace pg_unit_tests::cluster
