// pg_unit_tests: the shared library's entry point.
//
// Time control needs shared memory, hooks and a patch of the built-in function table that only
// make sense when they are in place in the postmaster, before any backend starts: so it is switched
// on only when the library is preloaded (shared_preload_libraries) *and*
// pg_unit_tests.time_control = on.
// Loaded any other way (CREATE EXTENSION, LOAD), the library defines the clock settings with a
// check that rejects any value, and the time-control functions fail with a hint; the rest of the
// extension works.
#include "clock/hooks.hpp"
#include "clock/state.hpp"
#include "pg/postgres.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void) {  // NOLINT(bugprone-reserved-identifier): PostgreSQL's name
  // PGC_POSTMASTER settings can only be defined while preloading; later it would be FATAL.
  bool preloading = process_shared_preload_libraries_in_progress;
  // A second copy of the library (preloaded from one path, CREATE EXTENSION's $libdir from
  // another) would try to define the settings again; say so instead of "attempt to redefine".
  bool defined = GetConfigOption(pgut::clock::kFrozenAt, true, false) != nullptr &&
                 (GetConfigOptionFlags(pgut::clock::kFrozenAt, true) & GUC_CUSTOM_PLACEHOLDER) == 0;
  if (defined)
    ereport(ERROR,
            (errcode(ERRCODE_DUPLICATE_OBJECT),
             errmsg("pg_unit_tests is loaded twice, from two different files"),
             errhint("Preload the same file that CREATE EXTENSION uses ($libdir/pg_unit_tests): "
                     "shared_preload_libraries = 'pg_unit_tests'.")));
  pgut::clock::define_settings(preloading);
  if (preloading && pgut::clock::time_control_enabled()) pgut::clock::install_hooks();
}
}
