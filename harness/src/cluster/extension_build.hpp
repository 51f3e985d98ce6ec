// This project's extension, built for the PostgreSQL installation a server runs.
//
// A source tree holds one build of the extension, made for the installation its PG_CONFIG named
// (the Makefile records which in extension/.built-for). A server of another installation (another
// major version, or an assert-enabled build of the same one) cannot load that library, so it gets
// a build of its own: made out of tree in the harness's build/ directory (make -f TREE/Makefile
// HARNESS=no install
// DESTDIR=..., PGXS's VPATH build), the way --extension directories are built, kept per source
// tree and installation, and made again only when a source file changed.
#pragma once

#include <string>

#include "cluster/layout.hpp"
#include "cluster/overlay.hpp"
#include "pg_unit_tests/installation.hpp"

namespace pg_unit_tests::cluster {

// What to serve for `inst`, given the build found in a source tree (`tree_build.origin` is the
// tree): that build when it was made for `inst` (or when there are no sources to build from),
// else one built for `inst` in build/. Throws Error(kExtension), one line, when the extension
// does not support inst's version, the installation has no PGXS, or the build fails.
ExtensionFiles own_extension_for(const ExtensionFiles& tree_build, const Installation& inst,
                                 const Layout& layout);

// The installation a build is for, as the Makefile writes it into extension/.built-for.
std::string built_for(const Installation& inst);

}  // namespace pg_unit_tests::cluster
