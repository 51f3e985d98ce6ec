// Unit tests (no server): scripts/check-boundary.sh --harness, the build check that keeps
// harness/src/pq/ the harness's one way to libpq, run on a small tree of its own.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Tree {
  fs::path root;
  Tree() {
    char tmpl[] = "/tmp/pgut-boundary-XXXXXX";
    root = mkdtemp(tmpl);
    fs::create_directories(root / "scripts");
    fs::copy_file(fs::path(PGUT_README).parent_path() / "scripts/check-boundary.sh",
                  root / "scripts/check-boundary.sh");
    write("harness/src/pq/connection.cpp", "#include <libpq-fe.h>\nvoid f() { PQexec(c, s); }\n");
    write("harness/cli/lazy_libpq.cpp",
          "#include <libpq-fe.h>\nPGresult* PQexec(PGconn*, "
          "const char*) { return nullptr; }\n");
    write("harness/include/pg_unit_tests/database.hpp",
          "// PGconn* c = PQconnectdb(uri);  (a comment for users)\ntypedef struct pg_conn "
          "PGconn;\n");
    write("harness/src/database/other.cpp", "#include \"pq/connection.hpp\"\nint PQish = 0;\n");
  }
  ~Tree() { fs::remove_all(root); }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((root / name).parent_path());
    std::ofstream(root / name) << text;
  }
  // The script's exit status; its complaints in `said`.
  int check(std::string& said) const {
    const std::string cmd = "cd " + root.string() + " && scripts/check-boundary.sh --harness 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[512];
    said.clear();
    while (fgets(buf, sizeof buf, p)) said += buf;
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

}  // namespace

TEST(HarnessBoundary, TheWrapperTheLazyLoaderAndCommentsMayNameLibpq) {
  Tree t;
  std::string said;
  EXPECT_EQ(t.check(said), 0) << said;
  EXPECT_EQ(said, "");
}

TEST(HarnessBoundary, ACallOutsideTheWrapperFailsNamingIt) {
  Tree t;
  t.write("harness/src/regress/runner.cpp", "int x;\nvoid g() { auto* r = PQexec (c, s); }\n");
  std::string said;
  EXPECT_EQ(t.check(said), 1);
  EXPECT_NE(said.find("harness/src/regress/runner.cpp:2: uses libpq directly"), std::string::npos)
      << said;
  EXPECT_NE(said.find("harness/src/pq/"), std::string::npos) << said;
}

TEST(HarnessBoundary, AnIncludeOfLibpqOutsideTheWrapperFails) {
  Tree t;
  t.write("harness/src/database/clock.cpp", "#include <libpq-fe.h>\n");
  std::string said;
  EXPECT_EQ(t.check(said), 1);
  EXPECT_NE(said.find("harness/src/database/clock.cpp:1:"), std::string::npos) << said;
}
