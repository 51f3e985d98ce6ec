#include "cluster/init_sources.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "platform/fs.hpp"
#include "platform/sha256.hpp"

namespace pg_unit_tests::cluster {

namespace {

std::string content_of(const fs::path& file) {
  auto text = platform::read_file(file);
  if (!text) {
    throw Error(ExitCode::kUsage, fmt::format("cannot read {}: {}", file.string(),
                                              std::strerror(errno ? errno : EIO)));
  }
  return std::move(*text);
}

// Files below a --init-key directory, sorted, relative to it. Hidden entries and __pycache__ are
// left out: tools write there while they run (Python's bytecode), which must not change the key.
std::vector<fs::path> key_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind('.', 0) == 0 || name == "__pycache__") {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), dir));
  }
  if (ec) {
    throw Error(ExitCode::kUsage, fmt::format("--init-key {}: {}", dir.string(), ec.message()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

InitSources resolve_init(const ServerOptions& o) {
  InitSources s;
  std::error_code ec;
  s.directory = fs::current_path(ec);
  if (ec) throw Error(ExitCode::kUsage, "--init: the current directory is gone");
  for (const auto& given : o.init) {
    const fs::path p = given.is_absolute() ? given : s.directory / given;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> sql;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.path().extension() == ".sql" && e.is_regular_file(ec)) sql.push_back(e.path());
      }
      std::sort(sql.begin(), sql.end(), [](const fs::path& a, const fs::path& b) {
        return a.filename().string() < b.filename().string();
      });
      if (sql.empty()) {
        throw Error(ExitCode::kUsage,
                    fmt::format("--init {}: the directory has no *.sql files", given.string()));
      }
      s.files.insert(s.files.end(), sql.begin(), sql.end());
    } else if (fs::is_regular_file(p, ec)) {
      s.files.push_back(p);
    } else {
      throw Error(ExitCode::kUsage,
                  fmt::format("--init {}: no such file or directory", given.string()));
    }
  }
  s.command = o.init_command;
  for (const auto& given : o.init_key) {
    const fs::path p = given.is_absolute() ? given : s.directory / given;
    if (!fs::exists(p, ec)) {
      throw Error(ExitCode::kUsage,
                  fmt::format("--init-key {}: no such file or directory", given.string()));
    }
    s.key_paths.push_back(p);
  }
  if (s.empty() && !s.key_paths.empty()) {
    throw Error(ExitCode::kUsage, "--init-key keys a migration: give --init or --init-command too");
  }
  return s;
}

std::string init_digest(const InitSources& s) {
  platform::Sha256 h;
  h.field("files");
  for (const auto& f : s.files) {
    h.field(f.filename().string());
    h.field(content_of(f));
  }
  h.field("command");
  h.field(s.command);
  // A command's meaning depends on where it runs (alembic.ini, knexfile.js ...).
  if (!s.command.empty()) h.field(s.directory.string());
  h.field("keys");
  for (const auto& k : s.key_paths) {
    h.field(k.string());
    if (fs::is_directory(k)) {
      for (const auto& rel : key_files(k)) {
        h.field(rel.string());
        h.field(content_of(k / rel));
      }
    } else {
      h.field(content_of(k));
    }
  }
  return h.hex();
}

}  // namespace pg_unit_tests::cluster
