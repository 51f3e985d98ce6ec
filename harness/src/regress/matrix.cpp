#include "regress/matrix.hpp"

#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/installation.hpp"
#include "platform/process.hpp"
#include "regress/report.hpp"

namespace pg_unit_tests::regress::detail {

namespace {

// A label is a directory name under results/: a version string keeps its letters, digits, dots
// and dashes ("16.2", "18beta1"); anything else becomes '_'.
std::string directory_safe(const std::string& s) {
  std::string out;
  for (char c : s)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
  return out.empty() ? "unknown" : out;
}

bool assert_enabled(const Installation& inst) {
  const platform::RunResult r = platform::run({inst.pg_config.string(), "--configure"});
  return r.status == 0 && r.output.find("--enable-cassert") != std::string::npos;
}

}  // namespace

std::vector<MatrixEntry> matrix_entries(const std::vector<std::string>& pg_configs) {
  std::vector<MatrixEntry> entries;
  std::vector<std::optional<Installation>> found;
  std::set<fs::path> seen;
  for (const auto& p : pg_configs) {
    MatrixEntry e;
    e.pg_config = p;
    try {
      Installation inst = Installation::find(p);
      std::error_code ec;
      const fs::path canonical = fs::weakly_canonical(inst.pg_config, ec);
      if (!seen.insert(ec ? inst.pg_config : canonical).second) continue;
      e.version = inst.version;
      e.label = directory_safe(inst.version);
      found.emplace_back(std::move(inst));
    } catch (const Error& err) {
      e.label = p.empty() ? "default" : p;
      e.error = err.what();
      found.emplace_back();
    }
    entries.push_back(std::move(e));
  }
  std::map<std::string, int> count;
  for (const auto& e : entries) {
    if (e.error.empty()) ++count[e.label];
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].error.empty() && count[entries[i].label] > 1 && assert_enabled(*found[i])) {
      entries[i].label += "-cassert";
    }
  }
  std::map<std::string, int> seen_labels;
  for (auto& e : entries) {
    if (!e.error.empty()) continue;
    if (const int n = ++seen_labels[e.label]; n > 1) e.label += fmt::format("-{}", n);
  }
  return entries;
}

void check_matrix_options(const Options& o) {
  if (o.use_existing || !o.host.empty() || o.port > 0 || !o.user.empty()) {
    throw Error(ExitCode::kUsage,
                "--host, --port, --user and --use-existing name one existing server, and a "
                "version matrix starts a server of each installation: give one --pg-config");
  }
  for (const auto& [value, option] : {std::pair{o.bindir, "--bindir"},
                                      {o.dlpath, "--dlpath"},
                                      {o.isolationtester, "--isolationtester"}}) {
    if (!value.empty()) {
      throw Error(ExitCode::kUsage,
                  fmt::format("{} names a directory of one installation, and a version matrix "
                              "uses each installation's own: drop {}, or give one --pg-config",
                              option, option));
    }
  }
  if (o.accept) {
    throw Error(ExitCode::kUsage,
                "--accept with several installations would write each one's output over the "
                "last one's: accept with one --pg-config at a time (outputs that differ by "
                "version go to alternative files, expected/T_1.out ...)");
  }
}

void remove_matrix_reports(const fs::path& outputdir) {
  std::error_code ec;
  for (const char* f : {"regression.diffs", "regression.out"}) fs::remove(outputdir / f, ec);
}

void write_matrix_reports(const std::vector<Summary>& runs, const fs::path& outputdir) {
  bool any = false;
  for (const auto& s : runs) any = any || !s.error.empty() || fs::exists(s.diffs_file);
  if (!any) return;
  std::ofstream diffs(outputdir / "regression.diffs", std::ios::binary | std::ios::trunc);
  std::ofstream summary(outputdir / "regression.out", std::ios::binary | std::ios::trunc);
  bool any_diff = false;
  for (const auto& s : runs) {
    const std::string prefix = "[" + s.label + "] ";
    if (!s.error.empty()) {
      summary << prefix << "could not run: " << s.error << "\n";
      continue;
    }
    summary << summary_lines(s, prefix);
    if (!fs::exists(s.diffs_file)) continue;
    std::ifstream in(s.diffs_file, std::ios::binary);
    diffs << in.rdbuf();
    any_diff = true;
  }
  diffs.close();
  std::error_code ec;
  if (!any_diff) fs::remove(outputdir / "regression.diffs", ec);
}

}  // namespace pg_unit_tests::regress::detail
