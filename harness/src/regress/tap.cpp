// PGXS's TAP tests (TAP_TESTS = 1: t/*.pl on PostgreSQL::Test::Cluster), run with prove as PGXS's
// prove_installcheck runs them. Those tests start their own clusters with initdb and pg_ctl found
// on PATH; putting the bin directory of the harness's overlay first on PATH serves them the
// extension from its build output, as `make check`'s tmp_install does in PostgreSQL's own tree.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "cluster/layout.hpp"
#include "cluster/overlay.hpp"
#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/installation.hpp"
#include "pg_unit_tests/regress.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "regress/config.hpp"
#include "regress/lend.hpp"
#include "regress/matrix.hpp"

namespace pg_unit_tests::regress {

namespace {

// The test files prove gets when none are named: t/*.pl in the source directory, sorted.
std::vector<std::string> default_tests(const fs::path& srcdir) {
  std::vector<std::string> tests;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(srcdir / "t", ec)) {
    if (e.path().extension() == ".pl") tests.push_back("t/" + e.path().filename().string());
  }
  std::sort(tests.begin(), tests.end());
  return tests;
}

// Who runs the tests: this process's user, or under root the system user postgres.
std::optional<platform::Credentials> tap_user() {
  if (geteuid() != 0) return std::nullopt;
  const struct passwd* pw = getpwnam("postgres");
  if (!pw || pw->pw_uid == 0) {
    throw Error(ExitCode::kSystem,
                "TAP tests cannot run as root (initdb refuses it) and there is no system user "
                "postgres to run them as: create it (Debian's postgresql-common does), or run as "
                "an ordinary user");
  }
  return platform::Credentials{pw->pw_uid, pw->pw_gid};
}

}  // namespace

namespace {

int run_tap_tests_on_one(const Options& o) {
  const fs::path srcdir = detail::absolute_dir(o.inputdir);
  const fs::path testdir = detail::absolute_dir(o.outputdir);
  const cluster::Layout layout = cluster::Layout::prepare();
  const Installation inst = Installation::find(o.server.pg_config);
  const fs::path modules = inst.pkglibdir / "pgxs/src/test/perl";
  if (!fs::exists(modules / "PostgreSQL/Test/Cluster.pm")) {
    throw Error(ExitCode::kInstallation,
                fmt::format("PostgreSQL's TAP test modules are not in {} (PostgreSQL {} was built "
                            "without --enable-tap-tests; Debian's postgresql-server-dev-{} has "
                            "them): TAP tests cannot run against this installation",
                            modules.string(), inst.version, inst.major));
  }
  const fs::path prove = platform::find_on_path("prove");
  const fs::path perl = platform::find_on_path("perl");
  if (prove.empty() || perl.empty()) {
    throw Error(ExitCode::kInstallation,
                "prove was not found on PATH: install Perl (Debian: perl)");
  }
  if (platform::run({perl.string(), "-MIPC::Run", "-e", "1"}).status != 0) {
    throw Error(ExitCode::kInstallation,
                "the Perl module IPC::Run, which PostgreSQL::Test::Cluster needs, is missing: "
                "install it (Debian: libipc-run-perl)");
  }

  // PGXS starts every run with an empty tmp_check (logs, data directories, port locks).
  const fs::path tmp_check = testdir / "tmp_check";
  platform::remove_tree(tmp_check);
  std::error_code ec;
  fs::create_directories(tmp_check, ec);
  if (ec) {
    throw Error(ExitCode::kFilesystem,
                fmt::format("could not create {}: {}", tmp_check.string(), ec.message()));
  }

  // initdb refuses root, and the harness's own user cannot run these tests either: initdb names
  // the superuser after the user, and names starting with "pg_" are reserved. Under root they
  // run as the system user postgres (Debian's PostgreSQL packages make it), which cannot enter
  // the harness's private directory: its overlay is then built inside tmp_check.
  const std::optional<platform::Credentials> as = tap_user();
  std::vector<cluster::ExtensionFiles> extensions;
  for (const auto& dir : o.server.extensions) {
    extensions.push_back(cluster::resolve_extension(dir, inst, layout));
  }
  cluster::Layout overlay_layout = layout;
  if (as) overlay_layout.build = tmp_check;
  const cluster::Overlay overlay = cluster::prepare_overlay(inst, extensions, overlay_layout);
  const fs::path bindir =
      overlay.root.empty() ? inst.bindir : overlay.root / inst.bindir.relative_path();

  platform::SpawnSpec spec;
  if (o.command.empty()) {
    const std::vector<std::string> tests = o.tests.empty() ? default_tests(srcdir) : o.tests;
    if (tests.empty()) {
      throw Error(ExitCode::kUsage,
                  fmt::format("no TAP tests: {} has no t/*.pl (name the test files, or set "
                              "--inputdir to the directory holding t/)",
                              srcdir.string()));
    }
    spec.argv = {prove.string(), "-I", modules.string() + "/", "-I", srcdir.string()};
    spec.argv.insert(spec.argv.end(), tests.begin(), tests.end());
  } else {
    spec.argv = o.command;
    if (spec.argv[0].find('/') == std::string::npos) {
      const fs::path found = platform::find_on_path(spec.argv[0]);
      if (found.empty()) {
        throw Error(ExitCode::kUsage, fmt::format("{}: command not found", spec.argv[0]));
      }
      spec.argv[0] = found.string();
    }
  }
  const char* path = std::getenv("PATH");
  spec.env = {{"PATH", bindir.string() + ":" + (path ? path : "/usr/bin:/bin")},
              {"TESTDIR", testdir.string()},
              {"PG_REGRESS", (inst.pkglibdir / "pgxs/src/test/regress/pg_regress").string()}};
  spec.stdout_fd = 1;
  spec.stderr_fd = 2;
  spec.cwd = srcdir;

  // The tests' user gets tmp_check for the run, and gives back what it made there.
  detail::LentDirectory lent;
  if (as) {
    spec.as = as;
    if (!detail::reachable_by(srcdir, as->uid, as->gid) ||
        !detail::reachable_by(testdir, as->uid, as->gid)) {
      std::fprintf(stderr,
                   "note: the TAP tests run as the user postgres, which cannot reach %s: they "
                   "will fail (make the directories above it searchable by that user)\n",
                   srcdir.c_str());
    }
    std::string why_not;
    lent = detail::LentDirectory::lend(tmp_check, as->uid, as->gid, &why_not);
    if (!why_not.empty()) std::fprintf(stderr, "note: %s\n", why_not.c_str());
  }
  std::fflush(stdout);
  const int status = platform::wait_for(platform::spawn(spec));
  lent.give_back();
  return status == 0 ? 0 : 1;
}

}  // namespace

int run_tap_tests(const Options& o) {
  if (o.installations.size() <= 1) {
    Options one = o;
    if (!o.installations.empty()) one.server.pg_config = o.installations.front();
    return run_tap_tests_on_one(one);
  }
  // A version matrix: prove once per installation, one after another; the worst status (2 for an
  // installation whose tests could not run).
  int worst = 0;
  for (const auto& e : detail::matrix_entries(o.installations)) {
    std::printf("# PostgreSQL %s (%s)\n", e.label.c_str(), e.pg_config.c_str());
    std::fflush(stdout);
    Options one = o;
    one.server.pg_config = e.pg_config;
    one.installations.clear();
    try {
      if (!e.error.empty()) throw Error(ExitCode::kInstallation, e.error);
      worst = std::max(worst, run_tap_tests_on_one(one));
    } catch (const Error& err) {
      // As pg_regress's contract says for a run that cannot start; the other installations run.
      std::fprintf(stderr, "pg_unit_tests regress: PostgreSQL %s: %s\n", e.label.c_str(),
                   err.what());
      worst = 2;
    }
  }
  return worst;
}

}  // namespace pg_unit_tests::regress
