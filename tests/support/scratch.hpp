// A private PG_UNIT_TESTS_DIR for tests that need a cache of their own: its servers are stopped
// and it is removed afterwards.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/process.hpp"

namespace test_support {

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    char tmpl[] = "/tmp/pgut-test-XXXXXX";
    path = mkdtemp(tmpl);
    chmod(path.c_str(), 0755);  // the server user must be able to enter (under root)
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    run({cli(), "stop", "--all"}, {{"PG_UNIT_TESTS_DIR", path.string()}});
    remove_tree_eventually(path);
  }
};

// A ScratchDir that this process's harness calls use too (PG_UNIT_TESTS_DIR set here, for the
// library's Server and Database; each test runs in its own process).
struct ScratchBase : ScratchDir {
  ScratchBase() { setenv("PG_UNIT_TESTS_DIR", path.c_str(), 1); }
  ~ScratchBase() { unsetenv("PG_UNIT_TESTS_DIR"); }
};

}  // namespace test_support
