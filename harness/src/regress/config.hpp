// The ephemeral server's configuration (--temp-config files), and directory arguments.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace pg_unit_tests::regress::detail {

// A postgresql.conf fragment (--temp-config) as "name=value" settings, in file order: `#`
// comments, blank lines, `name = value` and `name value`, values quoted with '' and backslash
// escapes. Throws Error(kUsage) naming the file and line for a line that is not a setting.
std::vector<std::string> read_temp_config(const std::filesystem::path& file);

// An absolute, canonical directory path as pg_regress's make_absolute_path() gives it: no "." or
// ".." components and no trailing slash ("./" would make PG_ABS_SRCDIR ".../" otherwise).
std::filesystem::path absolute_dir(const std::string& dir);

}  // namespace pg_unit_tests::regress::detail
