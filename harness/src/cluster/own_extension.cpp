#include "cluster/own_extension.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "cluster/extension_build.hpp"
#include "pg_unit_tests/error.hpp"
#include "platform/process.hpp"

namespace pg_unit_tests::cluster {

namespace fs = std::filesystem;

namespace {

constexpr const char* kName = "pg_unit_tests";

// The files of a build in `dir` (a tree built in place, or flat); nullopt without a control file
// and an install script.
std::optional<ExtensionFiles> build_in(const fs::path& where) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(where, ec);  // one overlay for every build tree
  ExtensionFiles out;
  out.origin = dir;
  const bool tree = fs::exists(dir / "extension" / (std::string(kName) + ".control"), ec);
  collect_extension_files(tree ? dir / "extension" : dir, out);
  if (tree) collect_extension_files(dir, out);  // pg_unit_tests.so at the top of the tree
  std::erase_if(out.share_files, [](const fs::path& p) {
    return p.filename().string().rfind(kName, 0) != 0;  // only our own files
  });
  std::erase_if(out.lib_files,
                [](const fs::path& p) { return p.filename() != std::string(kName) + ".so"; });
  out.names = {kName};
  const bool has_control = std::any_of(out.share_files.begin(), out.share_files.end(),
                                       [](auto& p) { return p.extension() == ".control"; });
  const bool has_script = std::any_of(out.share_files.begin(), out.share_files.end(),
                                      [](auto& p) { return p.extension() == ".sql"; });
  if (!has_control || !has_script) return std::nullopt;
  return out;
}

}  // namespace

OwnExtension own_extension(const Installation& inst, const Layout& layout) {
  OwnExtension own;
  if (const char* env = std::getenv("PG_UNIT_TESTS_EXTENSION_DIR"); env && *env) {
    own.build = build_in(env);
    if (!own.build) {
      throw Error(ExitCode::kExtension,
                  fmt::format("PG_UNIT_TESTS_EXTENSION_DIR={} holds no build of the pg_unit_tests "
                              "extension (pg_unit_tests.control and its SQL script): build it "
                              "(make) or unset the variable",
                              env));
    }
  } else {
    own.build =
        build_in(platform::self_executable().parent_path() / "../share/pg_unit_tests/extension");
  }
  if (own.build) own.build = own_extension_for(*own.build, inst, layout);
  std::error_code ec;
  own.preload = own.build ? !own.build->lib_files.empty()
                          : fs::exists(inst.pkglibdir / (std::string(kName) + ".so"), ec);
  return own;
}

}  // namespace pg_unit_tests::cluster
