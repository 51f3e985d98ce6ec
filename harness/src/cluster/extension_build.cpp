#include "cluster/extension_build.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/template_cache.hpp"
#include "cluster/versions.hpp"
#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests::cluster {

namespace {

constexpr const char* kName = "pg_unit_tests";

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool has_sources(const fs::path& tree) {
  std::error_code ec;
  return fs::exists(tree / "Makefile", ec) && fs::is_directory(tree / "extension" / "src", ec);
}

// The inputs of a build (the Makefile's sources), by path, size and modification time: a build
// is made again only when one of them changed.
std::string source_fingerprint(const fs::path& tree) {
  std::vector<fs::path> files = {tree / "Makefile", tree / "extension" / "extension.mk",
                                 tree / "extension" / (std::string(kName) + ".control"),
                                 tree / "scripts" / "check-boundary.sh"};
  for (const char* dir : {"extension/sql", "extension/src"}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(tree / dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (ext == ".sql" || ext == ".cpp" || ext == ".hpp" || ext == ".h") files.push_back(*it);
    }
  }
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& f : files) {
    struct stat st {};
    if (stat(f.c_str(), &st) != 0) continue;
    text +=
        fmt::format("{}|{}|{}.{}\n", f.string(), st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  }
  return stable_hash(text);
}

// The extension's files in a staged installation (make install DESTDIR=stage).
ExtensionFiles staged_files(const fs::path& stage, const Installation& inst,
                            const fs::path& origin) {
  ExtensionFiles out;
  out.origin = origin;
  out.names = {kName};
  std::error_code ec;
  const fs::path share = stage / inst.sharedir.relative_path() / "extension";
  for (const auto& e : fs::directory_iterator(share, ec)) {
    const std::string name = e.path().filename().string();
    if (name == std::string(kName) + ".control" || name.rfind(std::string(kName) + "--", 0) == 0)
      out.share_files.push_back(e.path());
  }
  const fs::path lib = stage / inst.pkglibdir.relative_path() / (std::string(kName) + ".so");
  if (fs::exists(lib, ec)) out.lib_files.push_back(lib);
  std::sort(out.share_files.begin(), out.share_files.end());
  return out;
}

[[noreturn]] void cannot_build(const Installation& inst, const std::string& why) {
  throw Error(ExitCode::kExtension,
              fmt::format("the pg_unit_tests extension cannot be built for PostgreSQL {} ({}): {}; "
                          "pass --stock to start a server without it",
                          inst.version, inst.bindir.string(), why));
}

void check_buildable(const Installation& inst) {
  if (inst.major < kExtensionOldestMajor) {
    cannot_build(inst, fmt::format("it supports PostgreSQL {} to {}", kExtensionOldestMajor,
                                   kExtensionNewestMajor));
  }
  const platform::RunResult r = platform::run({inst.pg_config.string(), "--pgxs"});
  std::error_code ec;
  if (r.status != 0 || !fs::exists(trimmed(r.output), ec)) {
    cannot_build(inst, fmt::format("the installation has no PGXS (its server development files; "
                                   "on Debian: postgresql-server-dev-{})",
                                   inst.major));
  }
}

}  // namespace

std::string built_for(const Installation& inst) {
  return fmt::format("bindir={} version={}", inst.bindir.string(), inst.version);
}

ExtensionFiles own_extension_for(const ExtensionFiles& tree_build, const Installation& inst,
                                 const Layout& layout) {
  const fs::path tree = tree_build.origin;
  const auto made_for = platform::read_file(tree / "extension" / ".built-for");
  if ((made_for && trimmed(*made_for) == built_for(inst)) || !has_sources(tree)) return tree_build;

  // In build/: made by the caller for servers to read (under root too), like --extension builds.
  const std::string name = "build-" + stable_hash(tree.string() + "|" + built_for(inst));
  const fs::path root = layout.build / name;
  const fs::path stage = root / "stage";
  const std::string fingerprint = source_fingerprint(tree);
  auto lock = platform::FileLock::exclusive(*layout.build_dir, name + ".lock");
  if (platform::read_file(root / "FINGERPRINT") == fingerprint) {
    ExtensionFiles staged = staged_files(stage, inst, root);
    if (!staged.lib_files.empty() && staged.share_files.size() >= 2) return staged;
  }
  check_buildable(inst);
  std::error_code ec;
  fs::create_directories(root / "obj", ec);
  if (ec) {
    throw Error(ExitCode::kFilesystem,
                fmt::format("could not create {}: {}", (root / "obj").string(), ec.message()));
  }
  platform::remove_tree(stage);
  fs::remove(root / "FINGERPRINT", ec);
  const unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  // A parent make's jobserver and flags must not leak into this one (an empty value unsets).
  const platform::RunResult r = platform::run(
      {"/usr/bin/env", "make", "-C", (root / "obj").string(), "-f", (tree / "Makefile").string(),
       "-j" + std::to_string(jobs), "HARNESS=no", "PG_CONFIG=" + inst.pg_config.string(),
       "DESTDIR=" + stage.string(), "install"},
      {}, root, {{"MAKEFLAGS", ""}, {"MFLAGS", ""}, {"MAKELEVEL", ""}});
  if (r.status != 0) {
    platform::remove_tree(stage);
    cannot_build(
        inst, "make failed: " + build_complaint(r.output) + keep_log(root / "make.log", r.output));
  }
  fs::remove(root / "make.log", ec);
  ExtensionFiles staged = staged_files(stage, inst, root);
  if (staged.lib_files.empty() || staged.share_files.size() < 2) {
    cannot_build(inst, fmt::format("make install put no {}.so, control file and script into {}",
                                   kName, stage.string()));
  }
  const nlohmann::json about = {
      {"source", tree.string()}, {"bindir", inst.bindir.string()}, {"version", inst.version}};
  platform::write_file_atomic(root / "BUILT-FOR.json", about.dump() + "\n", 0644);
  platform::write_file_atomic(root / "FINGERPRINT", fingerprint, 0644);
  return staged;
}

}  // namespace pg_unit_tests::cluster
