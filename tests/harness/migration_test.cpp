// Migrated templates (--init, --init-command, --init-key): a migration runs once per content, its
// result is cached and reused, a failure caches nothing. Every run of a migration is counted by
// the migration itself (psql's \! or the command appends a line to a file), never by timing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/errors.hpp"
#include "support/pq.hpp"
#include "support/process.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using test_support::cli;
using test_support::Connection;
using test_support::run;
using test_support::ScratchDir;
using test_support::trim;

namespace {

void write(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::trunc) << text;
}

int lines_in(const fs::path& file) {
  std::ifstream in(file);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// A project: migrations/ with SQL files that count their runs in runs.txt.
struct Project {
  ScratchDir base;  // PG_UNIT_TESTS_DIR
  ScratchDir project;
  fs::path migrations = project.path / "migrations";
  fs::path runs = project.path / "runs.txt";
  std::vector<std::pair<std::string, std::string>> env = {
      {"PG_UNIT_TESTS_DIR", base.path.string()}};

  Project() {
    fs::create_directory(migrations);
    write(migrations / "001_items.sql",
          "\\! echo run >> " + runs.string() +
              "\nCREATE TABLE items (id int PRIMARY KEY, name text);\n"
              "INSERT INTO items VALUES (1, 'first');\n");
  }

  test_support::Output cli_run(std::vector<std::string> args) const {
    args.insert(args.begin(), cli());
    return run(args, env);
  }
  // psql's answer to `sql` in a server made with these init options (exec).
  std::string query(const std::vector<std::string>& init, const std::string& sql) const {
    std::vector<std::string> args = {"exec"};
    args.insert(args.end(), init.begin(), init.end());
    for (const char* a : {"--", "psql", "-XAtc"}) args.emplace_back(a);
    args.push_back(sql);
    const auto r = cli_run(args);
    EXPECT_EQ(r.status, 0) << r.err;
    return trim(r.out);
  }
  fs::path cache() const {
    const auto j = nlohmann::json::parse(cli_run({"cache", "status", "--json"}).out);
    return fs::path(j["directory"].get<std::string>()) / "cache";
  }
  std::vector<nlohmann::json> migrated() const {
    std::vector<nlohmann::json> out;
    const auto j = nlohmann::json::parse(cli_run({"cache", "status", "--json"}).out);
    for (const auto& i : j["items"]) {
      if (i["kind"] == "migrated") out.push_back(i);
    }
    return out;
  }
  // Entries of the cache that belong to migrated templates (built, building, described).
  std::vector<std::string> migrated_entries() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache(), ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("mtmpl-", 0) == 0 && name.find(".lock") == std::string::npos) {
        out.push_back(name);
      }
    }
    return out;
  }
};

}  // namespace

TEST(MigratedTemplate, RunsOncePerContentAndEveryServerHasTheSchema) {
  Project p;
  const std::vector<std::string> init = {"--init", p.migrations.string()};
  EXPECT_EQ(p.query(init, "SELECT name FROM items"), "first");
  EXPECT_EQ(lines_in(p.runs), 1);
  // Unchanged: the next exec and a start reuse the template; the migration does not run again.
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM items"), "1");
  auto r = p.cli_run({"start", "--init", p.migrations.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  {
    Connection c(trim(r.out));
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.value("SELECT name FROM items WHERE id = 1"), "first");
  }
  EXPECT_EQ(p.cli_run({"stop", trim(r.out)}).status, 0);
  EXPECT_EQ(lines_in(p.runs), 1);

  // The key is the content, not the file's time: rewriting the same bytes changes nothing.
  const std::string same = [&] {
    std::ifstream in(p.migrations / "001_items.sql");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  write(p.migrations / "001_items.sql", same);
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM items"), "1");
  EXPECT_EQ(lines_in(p.runs), 1);

  // A new file is a new template, applied in name order after 001.
  write(p.migrations / "002_more.sql",
        "\\! echo run >> " + p.runs.string() + "\nINSERT INTO items VALUES (2, 'second');\n");
  EXPECT_EQ(p.query(init, "SELECT string_agg(name, ',' ORDER BY id) FROM items"), "first,second");
  EXPECT_EQ(lines_in(p.runs), 3);  // both files ran (a line each)
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM items"), "2");
  EXPECT_EQ(lines_in(p.runs), 3);

  // Both are listed with their sources; cache clear removes them.
  const auto listed = p.migrated();
  ASSERT_EQ(listed.size(), 2u);
  bool two_files = false;
  for (const auto& m : listed) {
    EXPECT_NE(m["detail"].get<std::string>().find("001_items.sql"), std::string::npos) << m;
    two_files |= m["init"]["files"].size() == 2;
  }
  EXPECT_TRUE(two_files);
  r = p.cli_run({"cache", "status"});
  EXPECT_NE(r.out.find("migrated"), std::string::npos) << r.out;
  EXPECT_EQ(p.cli_run({"cache", "clear"}).status, 0);
  EXPECT_TRUE(p.migrated().empty());
  EXPECT_TRUE(p.migrated_entries().empty());
  // And the next start migrates again.
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM items"), "2");
  EXPECT_EQ(lines_in(p.runs), 5);
}

TEST(MigratedTemplate, CommandKeyedByItsKeyFiles) {
  Project p;
  const fs::path schema = p.project.path / "schema.txt";  // the "migration tool's" input
  write(schema, "CREATE TABLE t (a int)");
  const fs::path unrelated = p.project.path / "README";
  write(unrelated, "one");
  // The command sees the database through DATABASE_URL (and PG*), as migration tools do.
  const std::string command = "echo run >> " + p.runs.string() +
                              " && test \"$PGDATABASE\" = postgres && psql -Xq -v "
                              "ON_ERROR_STOP=1 \"$DATABASE_URL\" -f " +
                              schema.string();
  const std::vector<std::string> init = {"--init-command", command, "--init-key", schema.string()};
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM t"), "0");
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM t"), "0");
  EXPECT_EQ(lines_in(p.runs), 1);
  write(unrelated, "two");  // not a key file
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM t"), "0");
  EXPECT_EQ(lines_in(p.runs), 1);
  write(schema, "CREATE TABLE t (a int, b int)");
  EXPECT_EQ(p.query(init, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'"),
            "2");
  EXPECT_EQ(lines_in(p.runs), 2);
  const auto listed = p.migrated();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["init"]["command"], command);
  EXPECT_EQ(listed[0]["init"]["key"][0], schema.string());
}

TEST(MigratedTemplate, SpareServersOfTheKeyHaveTheSchema) {
  Project p;
  auto r = p.cli_run({"cache", "warm", "--servers", "1", "--init", p.migrations.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(lines_in(p.runs), 1);
  EXPECT_EQ(p.query({"--init", p.migrations.string()}, "SELECT name FROM items"), "first");
  EXPECT_EQ(lines_in(p.runs), 1);
}

TEST(MigratedTemplate, AFailingMigrationIsOneLineExit5AndCachesNothing) {
  Project p;
  write(p.migrations / "002_broken.sql", "SELECT 1;\nINSERT INTO nowhere VALUES (1);\n");
  auto r = p.cli_run({"start", "--init", p.migrations.string()});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("002_broken.sql:2: ERROR:  relation \"nowhere\" does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(p.migrated_entries().empty());
  // No server is left (the one that ran the migration is gone with its directory).
  EXPECT_EQ(trim(p.cli_run({"list"}).out), "");
  const fs::path run_dir = p.cache().parent_path() / "run";
  EXPECT_TRUE(test_support::eventually([&] { return fs::is_empty(run_dir); })) << run_dir;

  r = p.cli_run({"exec", "--init-command", "echo 'migration 42: boom' >&2; exit 3", "--", "true"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("exit status 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("migration 42: boom"), std::string::npos) << r.err;
  EXPECT_TRUE(p.migrated_entries().empty());
  EXPECT_TRUE(test_support::eventually([&] { return fs::is_empty(run_dir); })) << run_dir;
}

TEST(MigratedTemplate, BadSourcesAreUsageErrors) {
  Project p;
  auto r = p.cli_run({"start", "--init", (p.project.path / "nope").string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no such file or directory"), std::string::npos) << r.err;
  fs::create_directory(p.project.path / "empty");
  r = p.cli_run({"start", "--init", (p.project.path / "empty").string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no *.sql files"), std::string::npos) << r.err;
  r = p.cli_run({"start", "--init-key", p.migrations.string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(trim(p.cli_run({"list"}).out), "");
}

TEST(MigratedTemplate, OldAndOverBudgetTemplatesAreCollected) {
  Project p;
  const std::vector<std::string> init = {"--init", p.migrations.string()};
  EXPECT_EQ(p.query(init, "SELECT 1"), "1");
  const auto first = p.migrated_entries();
  ASSERT_EQ(first.size(), 2u);  // the template and its description
  // Unused for ten days: the next build collects it.
  const std::string first_key = p.migrated()[0]["key"];
  const fs::path description = p.cache() / ("mtmpl-" + first_key + ".json");
  struct utimbuf old {};
  old.actime = old.modtime = time(nullptr) - 10 * 86400;
  ASSERT_EQ(utime(description.c_str(), &old), 0);
  write(p.migrations / "002.sql", "SELECT 1;\n");
  EXPECT_EQ(p.query(init, "SELECT 2"), "2");
  auto listed = p.migrated();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_NE(listed[0]["key"], first_key);
  // Over the size budget: only the newest stays.
  p.env.emplace_back("PG_UNIT_TESTS_INIT_MAX_MB", "0");
  write(p.migrations / "003.sql", "SELECT 1;\n");
  EXPECT_EQ(p.query(init, "SELECT 3"), "3");
  listed = p.migrated();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["init"]["files"].size(), 3u);
}

TEST(MigratedTemplate, RegressTestDatabasesAreCopiesOfTheMigratedDatabase) {
  Project p;
  const fs::path suite = p.project.path / "suite";
  fs::create_directories(suite / "sql");
  fs::create_directories(suite / "expected");
  write(suite / "sql" / "items.sql", "SELECT count(*) AS n FROM items;\n");
  write(suite / "expected" / "items.out",
        "SELECT count(*) AS n FROM items;\n n \n---\n 1\n(1 row)\n\n");
  auto r = p.cli_run({"regress", "--inputdir", suite.string(), "--outputdir", suite.string(),
                      "--init", p.migrations.string(), "items"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  r = p.cli_run({"regress", "--inputdir", suite.string(), "--outputdir", suite.string(), "--init",
                 p.migrations.string(), "items"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(lines_in(p.runs), 1);
}
