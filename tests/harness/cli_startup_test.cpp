// What the CLI loads when it starts: test suites run it for every fixture and every database, so
// it must not pay for libraries a command does not use (bench/cli_startup.cpp measures the cost).
#include <gtest/gtest.h>

#include <vector>
#include <string>

#include "support/process.hpp"

using test_support::cli;
using test_support::run;

namespace {

bool libpq_loaded(const std::vector<std::string>& args, std::string* err = nullptr) {
  std::vector<std::string> argv = {cli()};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(argv, {{"LD_DEBUG", "files"}});
  if (err) *err = r.err;
  return r.err.find("file=libpq.so") != std::string::npos;
}

}  // namespace

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
