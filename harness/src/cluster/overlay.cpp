#include "cluster/overlay.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "cluster/template_cache.hpp"
#include "pg_unit_tests/error.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests::cluster {

namespace {

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

fs::path mirror(const fs::path& root, const fs::path& system_path) {
  return root / system_path.relative_path();
}

}  // namespace

void collect_extension_files(const fs::path& dir, ExtensionFiles& out) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file(ec)) continue;
    if (has_suffix(name, ".control")) {
      out.share_files.push_back(e.path());
      out.names.push_back(name.substr(0, name.size() - 8));
    } else if (has_suffix(name, ".sql") && name.find("--") != std::string::npos) {
      out.share_files.push_back(e.path());
    } else if (has_suffix(name, ".so")) {
      out.lib_files.push_back(e.path());
    }
  }
}

namespace {

// A fingerprint of a source tree (paths, sizes, modification times), to skip `make` when nothing
// changed since the last successful build: make on a PGXS tree costs 100 ms even when idle. What
// the suites write into the tree (PGXS's test outputs, which its `make clean` removes, and
// pg_unit_tests.mk's tmp_install) is not the extension's source: a run does not make the next one
// rebuild.
std::string tree_fingerprint(const fs::path& dir) {
  static const std::set<std::string> kTestOutputs = {
      "results", "regression.diffs", "regression.out", "tmp_check", "tmp_check_iso",
      "log",     "output_iso",       "tmp_install"};
  std::string text;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == ".git" || (it.depth() == 0 && kTestOutputs.count(name))) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    text += fmt::format("{}|{}|{}.{}\n", it->path().string(), st.st_size, st.st_mtim.tv_sec,
                        st.st_mtim.tv_nsec);
  }
  return stable_hash(text);
}

std::string file_stamp(const fs::path& p) {
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return p.string() + "|missing";
  return fmt::format("{}|{}|{}.{}", p.string(), st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

void copy_file_atomic(const fs::path& from, const fs::path& to, mode_t mode) {
  const fs::path tmp = to.string() + fmt::format(".tmp-{}", getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  platform::copy_file(from, tmp, mode);  // (std::filesystem says "Input/output error" for ENOSPC)
  fs::rename(tmp, to, ec);
  if (ec) {
    fs::remove(tmp, ec);
    platform::throw_filesystem_error("write", to, ec.value());
  }
}

// Makes `dir` hold a symlink to every entry of `system_dir` except those in `own`, which are
// copies; anything else is removed. Symlinks to the system keep the overlay small and current.
void sync_farm(const fs::path& system_dir, const fs::path& dir, const std::vector<fs::path>& own,
               mode_t own_mode, const std::set<std::string>& skip = {}) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  chmod(dir.c_str(), 0755);
  std::set<std::string> own_names;
  for (const auto& f : own) {
    own_names.insert(f.filename().string());
    copy_file_atomic(f, dir / f.filename(), own_mode);
  }
  std::set<std::string> system_names;
  for (const auto& e : fs::directory_iterator(system_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (skip.count(name) || own_names.count(name)) continue;
    system_names.insert(name);
    const fs::path link = dir / name;
    std::error_code ec2;
    if (fs::is_symlink(link, ec2) && fs::read_symlink(link, ec2) == e.path()) continue;
    fs::remove_all(link, ec2);
    fs::create_symlink(e.path(), link, ec2);
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!own_names.count(name) && !system_names.count(name) && !skip.count(name)) {
      std::error_code ec2;
      fs::remove_all(e.path(), ec2);
    }
  }
}

// PGXS builds in the source directory, so the tree holds one installation's objects at a time,
// and a version matrix builds it for each in turn. Its staging (`make install DESTDIR=...`) is
// per installation (ext-HASH-BINDIRHASH); ext-HASH.state says which installation the tree's
// objects are for, the tree's fingerprint right after the last build, and a generation that grows
// whenever the tree changed in between (an edit, the user's own make). A staging is current when
// it was made in the current generation. Built for another installation than the tree's objects
// are for, everything is remade: make would otherwise keep objects compiled against the other
// version's headers. Returns the staging directory.
fs::path build_for(const fs::path& dir, const Installation& inst, const Layout& layout) {
  const std::string tree = "ext-" + stable_hash(dir.string());
  fs::path staging = layout.build / (tree + "-" + stable_hash(inst.bindir.string()));
  const fs::path state_file = layout.build / (tree + ".state");
  auto lock = platform::FileLock::exclusive(layout.build / (tree + ".lock"));
  // Three lines: built-for bindir, fingerprint after the last build, generation.
  std::string built_for, after;
  long generation = 0;
  if (const auto text = platform::read_file(state_file)) {
    std::istringstream in(*text);
    std::getline(in, built_for);
    std::getline(in, after);
    in >> generation;
  }
  const std::string now = tree_fingerprint(dir);
  if (now != after) ++generation;
  const fs::path stamp = staging.string() + ".generation";
  if (fs::exists(staging) && platform::read_file(stamp) == std::to_string(generation)) {
    return staging;
  }
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PG_CONFIG", inst.pg_config.string()}};
  const std::string pg_config_arg = "PG_CONFIG=" + inst.pg_config.string();
  // The whole output stays in a log next to the staging; the error names it.
  const fs::path log = staging.string() + ".log";
  auto make = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "make", "-C", dir.string(), pg_config_arg};
    argv.insert(argv.end(), args.begin(), args.end());
    return platform::run(argv, {}, dir, env);
  };
  // -B (every target remade), not `make clean`: PGXS's clean also removes results/ and
  // regression.diffs, the suite's output that a matrix is in the middle of writing.
  const bool other = !built_for.empty() && built_for != inst.bindir.string();
  platform::RunResult r = make(other ? std::vector<std::string>{"-B"} : std::vector<std::string>{});
  if (r.status != 0) {
    throw Error(ExitCode::kExtension,
                fmt::format("the extension in {} does not build ('make' failed: {}): fix the "
                            "build, then run again{}",
                            dir.string(), build_complaint(r.output), keep_log(log, r.output)));
  }
  platform::remove_tree(staging);
  r = make({"DESTDIR=" + staging.string(), "install"});
  if (r.status != 0) {
    platform::remove_tree(staging);
    throw Error(ExitCode::kExtension,
                fmt::format("the extension in {} builds, but 'make install DESTDIR=...' "
                            "failed: {}{}",
                            dir.string(), build_complaint(r.output), keep_log(log, r.output)));
  }
  std::error_code ignored;
  fs::remove(log, ignored);
  platform::write_file_atomic(stamp, std::to_string(generation), 0644);
  platform::write_file_atomic(
      state_file,
      fmt::format("{}\n{}\n{}\n", inst.bindir.string(), tree_fingerprint(dir), generation), 0644);
  return staging;
}

}  // namespace

std::string build_complaint(const std::string& output) {
  std::vector<std::string> picked;
  std::string make_line;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.find("error:") != std::string::npos || line.find("Error:") != std::string::npos) {
      if (picked.size() < 2) picked.push_back(line);
    } else if (make_line.empty() && line.find("*** ") != std::string::npos) {
      make_line = line;
    }
  }
  if (!make_line.empty()) picked.push_back(make_line);
  if (picked.empty()) return platform::last_lines(output, 2, "make");
  std::string out;
  for (const auto& l : picked) out += (out.empty() ? "" : " / ") + l;
  return out;
}

std::string keep_log(const fs::path& log, const std::string& output) {
  try {
    platform::write_file_atomic(log, output, 0644);
    return fmt::format(" (the whole output: {})", log.string());
  } catch (const Error&) {
    return {};
  }
}

ExtensionFiles resolve_extension(const fs::path& dir_arg, const Installation& inst,
                                 const Layout& layout) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(dir_arg), ec);
  if (!fs::is_directory(dir, ec)) {
    throw Error(ExitCode::kExtension,
                fmt::format("--extension {}: not a directory (give a PGXS extension's source "
                            "directory or a directory with its .control, .sql and .so files)",
                            dir_arg.string()));
  }
  ExtensionFiles out;
  out.origin = dir;
  const bool has_makefile = fs::exists(dir / "Makefile") || fs::exists(dir / "GNUmakefile") ||
                            fs::exists(dir / "makefile");
  const fs::path staged_share = mirror(dir, inst.sharedir) / "extension";
  if (has_makefile) {
    const fs::path staging = build_for(dir, inst, layout);
    collect_extension_files(mirror(staging, inst.sharedir) / "extension", out);
    collect_extension_files(mirror(staging, inst.pkglibdir), out);
  } else if (fs::is_directory(staged_share, ec)) {
    collect_extension_files(staged_share, out);
    collect_extension_files(mirror(dir, inst.pkglibdir), out);
  } else {
    collect_extension_files(dir, out);
  }
  // A library without a control file is fine too: logical decoding output plugins (wal2json),
  // modules for shared_preload_libraries or LOAD.
  if (out.names.empty() && out.lib_files.empty()) {
    throw Error(ExitCode::kExtension,
                fmt::format("--extension {}: no .control file and no library found{} (an extension "
                            "needs NAME.control and NAME--VERSION.sql, a module NAME.so)",
                            dir.string(), has_makefile ? " after 'make install'" : ""));
  }
  return out;
}

void build_overlay(const Installation& inst, const Overlay& o, const std::vector<fs::path>& share,
                   const std::vector<fs::path>& lib, const std::string& sources,
                   const Layout& layout);

Overlay prepare_overlay(const Installation& inst, const std::vector<ExtensionFiles>& extensions,
                        const Layout& layout) {
  if (extensions.empty()) return Overlay{{}, inst.bin("postgres")};
  std::vector<fs::path> share, lib;
  std::string identity = inst.bindir.string();
  std::string stamp = "bin farm\n" + file_stamp(inst.bin("postgres")) + "\n" +
                      file_stamp(inst.sharedir / "extension") + "\n" + file_stamp(inst.pkglibdir);
  std::string sources;
  for (const auto& e : extensions) {
    identity += "|" + e.origin.string();
    sources += e.origin.string() + "\n";
    for (const auto& f : e.share_files) share.push_back(f), stamp += "\n" + file_stamp(f);
    for (const auto& f : e.lib_files) lib.push_back(f), stamp += "\n" + file_stamp(f);
  }
  Overlay o;
  o.root = layout.build / ("overlay-" + stable_hash(identity));
  o.postgres = mirror(o.root, inst.bindir) / "postgres";
  const fs::path stamp_file = o.root / "FINGERPRINT";
  if (auto have = platform::read_file(stamp_file); have && *have == stamp) return o;

  auto lock = platform::FileLock::exclusive(o.root.string() + ".lock");
  const auto have = platform::read_file(stamp_file);
  if (have && *have == stamp) return o;
  try {
    build_overlay(inst, o, share, lib, sources, layout);
  } catch (...) {
    // A new overlay that could not be completed (a full disk) is removed; one that running
    // servers use is kept as it was and completed next time.
    if (!have) platform::remove_tree(o.root);
    throw;
  }
  platform::write_file_atomic(stamp_file, stamp, 0644);
  return o;
}

void build_overlay(const Installation& inst, const Overlay& o, const std::vector<fs::path>& share,
                   const std::vector<fs::path>& lib, const std::string& sources,
                   const Layout& layout) {
  std::error_code ec;
  fs::create_directories(o.postgres.parent_path(), ec);
  if (ec) {
    throw Error(
        ExitCode::kFilesystem,
        fmt::format("could not create {}: {}", o.postgres.parent_path().string(), ec.message()));
  }
  // Every directory on the way must be enterable by the server user when root builds it.
  for (fs::path p = o.postgres.parent_path(); p != layout.build && p.has_relative_path();
       p = p.parent_path()) {
    chmod(p.c_str(), 0755);
  }
  // A copy, not a link: the binary's real path is what PostgreSQL derives its directories from.
  copy_file_atomic(inst.bin("postgres"), o.postgres, 0755);
  // The other programs, for tests that start their own clusters from PATH (TAP tests): copies of
  // those that find postgres beside themselves, links to the rest.
  std::vector<fs::path> finders;
  for (const char* name : {"initdb", "pg_ctl", "pg_upgrade", "pg_rewind"}) {
    if (fs::exists(inst.bin(name), ec)) finders.push_back(inst.bin(name));
  }
  sync_farm(inst.bindir, o.postgres.parent_path(), finders, 0755, {"postgres"});
  sync_farm(inst.sharedir, mirror(o.root, inst.sharedir), {}, 0644, {"extension"});
  sync_farm(inst.sharedir / "extension", mirror(o.root, inst.sharedir) / "extension", share, 0644);
  sync_farm(inst.pkglibdir, mirror(o.root, inst.pkglibdir), lib, 0755);
  for (fs::path p = mirror(o.root, inst.sharedir); p != layout.build && p.has_relative_path();
       p = p.parent_path()) {
    chmod(p.c_str(), 0755);
  }
  platform::write_file_atomic(o.root / "SOURCES", sources, 0644);
}

}  // namespace pg_unit_tests::cluster
