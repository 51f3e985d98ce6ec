// What the CLI loads when it starts: test suites run it for every fixture and every database, so
// it must not pay for libraries a command does not use (bench/cli_startup.cpp measures the cost).
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "support/process.hpp"

using test_support::cli;
using test_support::run;

namespace {

// The shared objects the dynamic loader maps for a program (what ldd prints), by file name.
std::set<std::string> loaded_objects(const std::string& program) {
  const auto r = run({program}, {{"LD_TRACE_LOADED_OBJECTS", "1"}});
  EXPECT_EQ(r.status, 0) << r.err;
  std::set<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name;
    if (!(words >> name)) continue;
    names.insert(name.substr(name.rfind('/') + 1));
  }
  return names;
}

bool libpq_loaded(const std::vector<std::string>& args, std::string* err = nullptr) {
  std::vector<std::string> argv = {cli()};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(argv, {{"LD_DEBUG", "files"}});
  if (err) *err = r.err;
  return r.err.find("file=libpq.so") != std::string::npos;
}

}  // namespace

// The CLI, and the keeper that every start, exec and regress starts.
TEST(CliStartup, LoadsOnlyTheCLibrary) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer build links its runtimes and the shared C++ library";
#endif
  for (const std::string& program : {cli(), std::string(PGUT_KEEPER)}) {
    for (const auto& name : loaded_objects(program)) {
      const bool c_library = name.rfind("linux-vdso.so", 0) == 0 ||
                             name.rfind("ld-linux", 0) == 0 || name.rfind("libc.so", 0) == 0 ||
                             name.rfind("libm.so", 0) == 0;
      EXPECT_TRUE(c_library) << program << " loads " << name
                             << " at every start: link it statically or load it when needed";
    }
  }
}

TEST(CliStartup, LoadsLibpqOnlyForCommandsThatConnect) {
  EXPECT_FALSE(libpq_loaded({"--version"}));
  EXPECT_FALSE(libpq_loaded({"list"}));
  EXPECT_FALSE(libpq_loaded({"start", "--no-such-option"}));
  // createdb connects: libpq is loaded then, and the connection failure is still one clear line.
  std::string err;
  EXPECT_TRUE(libpq_loaded({"createdb", "--template", "t", "--uri",
                            "postgresql:///postgres?host=/nonexistent-pgut-dir&port=1"},
                           &err));
  EXPECT_NE(err.find("pg_unit_tests: cannot connect to"), std::string::npos) << err;
}
