// What differs between PostgreSQL major versions for the harness: which versions the extension
// supports, and the choices for throw-away servers that depend on the version (initdb options and
// template settings). Everything version-specific in the harness is decided here.
#pragma once

#include <string>
#include <vector>

namespace pg_unit_tests::cluster {

// The major versions the pg_unit_tests extension is written for (15 to 18; 17 is not built here).
inline constexpr int kExtensionOldestMajor = 15;
inline constexpr int kExtensionNewestMajor = 18;

// initdb options a template of this major version gets beyond the common ones.
std::vector<std::string> initdb_options(int major);

// postgresql.conf lines a template of this major version gets beyond the common ones.
std::string template_settings(int major);

}  // namespace pg_unit_tests::cluster
