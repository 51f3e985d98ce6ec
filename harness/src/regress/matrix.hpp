// The version matrix around the runner: which installations, under which labels, which options
// cannot apply to several, and the reports that gather every installation's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pg_unit_tests/regress.hpp"

namespace pg_unit_tests::regress::detail {

struct MatrixEntry {
  std::string label;      // the version ("15.20"), made unique; the pg_config given if not found
  std::string pg_config;  // as given
  std::string version;
  std::string error;  // the installation cannot be used (Installation::find's complaint)
};

// One entry per installation, in order, the same pg_config once. Two installations of one version
// are told apart by "-cassert" (configured with --enable-cassert), else by "-2", "-3" ...
std::vector<MatrixEntry> matrix_entries(const std::vector<std::string>& pg_configs);

// Throws Error(kUsage) for options that name one installation or one server.
void check_matrix_options(const Options& options);

// OUTPUTDIR/regression.diffs and regression.out: those of every installation (results/LABEL/),
// each line of the summary marked with its label; both removed when nothing failed.
void remove_matrix_reports(const std::filesystem::path& outputdir);
void write_matrix_reports(const std::vector<Summary>& runs, const std::filesystem::path& outputdir);

}  // namespace pg_unit_tests::regress::detail
