// Unit tests of `regress`'s pure parts, no server: schedule and --temp-config parsing, the
// command line's options, and the report writers (JUnit, TAP, JSON), each report checked by a
// real consumer: xmllint against a JUnit schema, prove, and a strict JSON parser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "cli/regress_command.hpp"
#include "pg_unit_tests/error.hpp"
#include "pg_unit_tests/regress.hpp"
#include "regress/config.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
namespace regress = pg_unit_tests::regress;
using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;

namespace {

// A private scratch directory, removed afterwards.
struct Scratch {
  fs::path dir;
  Scratch() {
    char tmpl[] = "/tmp/pgut-regress-unit-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream out(dir / name, std::ios::binary);
    out << text;
    return dir / name;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

// The message of the Error that `f` throws (fails the test if it throws none).
template <typename F>
std::string error_of(F f, ExitCode expected = ExitCode::kUsage) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

}  // namespace

// --- schedules ---------------------------------------------------------------------------------

TEST(Schedule, GroupsIgnoreCommentsAndBlankLines) {
  Scratch s;
  const auto file = s.write("schedule",
                            "# a comment\n\ntest: setup\ntest: p1 p2\n  \nignore: flaky\n"
                            "test: flaky\n");
  const auto sched = regress::parse_schedule(file);
  ASSERT_EQ(sched.groups.size(), 3u);
  EXPECT_EQ(sched.groups[0].tests, std::vector<std::string>{"setup"});
  EXPECT_EQ(sched.groups[1].tests, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(sched.groups[1].line, 4);
  EXPECT_EQ(sched.groups[1].file, file.string());
  EXPECT_EQ(sched.ignored, std::set<std::string>{"flaky"});
}

TEST(Schedule, IgnoreCoversTheGroupsOfLaterLinesOnly) {
  Scratch s;
  const auto sched = regress::parse_schedule(s.write("schedule",
                                                     "test: a b\nignore: a\ntest: a\nignore: b\n"
                                                     "test: a b\n"));
  ASSERT_EQ(sched.groups.size(), 3u);
  EXPECT_TRUE(sched.groups[0].ignored.empty());
  EXPECT_EQ(sched.groups[1].ignored, std::set<std::string>{"a"});
  EXPECT_EQ(sched.groups[2].ignored, (std::set<std::string>{"a", "b"}));
}

TEST(Schedule, SixteenAndLaterHaveNoIgnoreLines) {
  // pg_regress 16 removed `ignore:`: the line is a syntax error there, as in its run_schedule().
  Scratch s;
  const auto file = s.write("schedule", "test: a\nignore: a\ntest: a\n");
  EXPECT_EQ(regress::parse_schedule(file, 15).groups.size(), 2u);
  for (const int major : {16, 17, 18}) {
    const std::string e = error_of([&] { regress::parse_schedule(file, major); });
    EXPECT_NE(e.find("syntax error in schedule file \"" + file.string() + "\" line 2: ignore: a"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("has no \"ignore:\" lines"), std::string::npos) << e;
  }
  // Other lines: the same rules, without the mention of `ignore:`.
  const auto bad = s.write("bad", "tests: a\n");
  EXPECT_EQ(error_of([&] { regress::parse_schedule(bad, 16); }).find("ignore"), std::string::npos);
}

TEST(Schedule, TrailingBlanksAndTabsSeparateNames) {
  Scratch s;
  const auto sched = regress::parse_schedule(s.write("tabs", "test: a\tb   c  \t\n\n# x\n"));
  ASSERT_EQ(sched.groups.size(), 1u);
  EXPECT_EQ(sched.groups[0].tests, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Schedule, SyntaxErrorsNameFileAndLine) {
  Scratch s;
  for (const std::string text : {"test:a\n", "  test: a\n", "test: \n", "tests: a\n"}) {
    const auto file = s.write("bad", "# ok\n" + text);
    const std::string e = error_of([&] { regress::parse_schedule(file); });
    EXPECT_NE(e.find(file.string() + "\" line 2"), std::string::npos) << e;
  }
}

TEST(Schedule, MoreThanAHundredTestsInAGroupIsAnError) {
  Scratch s;
  std::string line = "test:";
  for (int i = 0; i < 101; ++i) line += " t" + std::to_string(i);
  const auto file = s.write("big", line + "\n");
  EXPECT_NE(error_of([&] { regress::parse_schedule(file); }).find("more than 100"),
            std::string::npos);
}

TEST(Schedule, MissingFileIsAnError) {
  EXPECT_NE(error_of([] {
              regress::parse_schedule("/nonexistent/schedule");
            }).find("could not open schedule file \"/nonexistent/schedule\""),
            std::string::npos);
}

TEST(Schedule, BinaryGarbageIsASyntaxErrorNotACrash) {
  Scratch s;
  const auto file =
      s.write("garbage", std::string("\xff\xfe\x00\x01test: a\n", 11) + std::string(100000, 'x'));
  EXPECT_THROW(regress::parse_schedule(file), Error);
}

// --- --temp-config -------------------------------------------------------------------------------

TEST(TempConfig, PostgresqlConfSyntax) {
  Scratch s;
  const auto file = s.write("extra.conf",
                            "# comment\n\nshared_preload_libraries = 'pg_cron'   # trailing\n"
                            "work_mem 64MB\n  cron.database_name='contrib_regression'\n"
                            "search_path = '\"$user\", public'\nquoted = 'it''s'\n"
                            "escaped = 'a\\'b'\n");
  EXPECT_EQ(
      regress::detail::read_temp_config(file),
      (std::vector<std::string>{"shared_preload_libraries=pg_cron", "work_mem=64MB",
                                "cron.database_name=contrib_regression",
                                "search_path=\"$user\", public", "quoted=it's", "escaped=a'b"}));
}

TEST(TempConfig, ALineThatIsNotASettingNamesFileAndLine) {
  Scratch s;
  const auto file = s.write("bad.conf", "a = 1\n= 2\n");
  EXPECT_NE(
      error_of([&] { regress::detail::read_temp_config(file); }).find(file.string() + "\" line 2"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              regress::detail::read_temp_config("/nonexistent.conf");
            }).find("could not read --temp-config file"),
            std::string::npos);
}

TEST(Dirs, AbsoluteDirectoriesAreCanonicalAsPgRegressMakesThem) {
  EXPECT_EQ(regress::detail::absolute_dir("/a/b/./"), "/a/b");
  EXPECT_EQ(regress::detail::absolute_dir("/a//b/"), "/a/b");
  EXPECT_EQ(regress::detail::absolute_dir("/a/b/../c"), "/a/c");
  EXPECT_EQ(regress::detail::absolute_dir("/"), "/");
  EXPECT_EQ(regress::detail::absolute_dir("./"), fs::current_path());
  EXPECT_EQ(regress::detail::absolute_dir(""), fs::current_path());
}

// --- the command line ----------------------------------------------------------------------------

namespace {

// Parses `pg_unit_tests regress ARGS` as the CLI does and returns the library's options.
regress::Options parse(std::vector<std::string> args,
                       pg_unit_tests::cli::RegressArgs* out = nullptr) {
  CLI::App app;
  pg_unit_tests::cli::RegressArgs a;
  auto* cmd = app.add_subcommand("regress");
  pg_unit_tests::cli::add_regress_options(cmd, a);
  args.insert(args.begin(), "regress");
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
  app.parse(args);
  if (out) *out = a;
  return pg_unit_tests::cli::library_options(a);
}

}  // namespace

TEST(Options, PgRegressOptionsAsPgxsPassesThem) {
  // PGXS passes --inputdir=./ first, REGRESS_OPTS may pass another: the last one wins.
  const auto o = parse({"--inputdir=./",
                        "--bindir=/usr/lib/postgresql/15/bin",
                        "--inputdir=test",
                        "--dbname=contrib_regression",
                        "--load-extension=citext",
                        "--load-extension",
                        "hstore",
                        "--schedule",
                        "s1",
                        "--schedule=s2",
                        "--create-role=r1,r2",
                        "--max-connections=5",
                        "--max-concurrent-tests=9",
                        "--encoding=LATIN1",
                        "--no-locale",
                        "--temp-config=a.conf",
                        "--temp-config",
                        "b.conf",
                        "--launcher=valgrind -q",
                        "--dlpath=/x",
                        "t1",
                        "t2"});
  EXPECT_EQ(o.inputdir, "test");
  EXPECT_EQ(o.bindir, "/usr/lib/postgresql/15/bin");
  EXPECT_EQ(o.dbnames, std::vector<std::string>{"contrib_regression"});
  EXPECT_EQ(o.load_extensions, (std::vector<std::string>{"citext", "hstore"}));
  EXPECT_EQ(o.schedules, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(o.create_roles, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(o.max_connections, 5);
  EXPECT_EQ(o.max_concurrent_tests, 9);
  EXPECT_EQ(o.encoding, "LATIN1");
  EXPECT_TRUE(o.no_locale);
  EXPECT_EQ(o.temp_configs, (std::vector<std::string>{"a.conf", "b.conf"}));
  EXPECT_EQ(o.launcher, "valgrind -q");
  EXPECT_EQ(o.dlpath, "/x");
  EXPECT_EQ(o.tests, (std::vector<std::string>{"t1", "t2"}));
  EXPECT_FALSE(o.use_existing);
}

TEST(Options, DbnameIsACommaListAndTheLastOneWins) {
  EXPECT_EQ(parse({"--dbname=a", "--dbname=b,c", "t"}).dbnames,
            (std::vector<std::string>{"b", "c"}));
  EXPECT_NE(error_of([] {
              parse({"--dbname=,x", "t"});
            }).find("no database name"),
            std::string::npos);
}

TEST(Options, TempInstanceAndDebugAreAcceptedAndExistingServerOptionsKept) {
  const auto o = parse({"--temp-instance=./tmp_check", "--debug", "--use-existing",
                        "--host=/run/pg", "--port=5433", "--user=me", "t"});
  EXPECT_TRUE(o.use_existing);
  EXPECT_EQ(o.host, "/run/pg");
  EXPECT_EQ(o.port, 5433);
  EXPECT_EQ(o.user, "me");
}

TEST(Options, AdditionsAndServerOptions) {
  pg_unit_tests::cli::RegressArgs a;
  const auto o = parse({"-j", "3", "--isolate", "--accept", "--tap", "--junit=j.xml", "--json",
                        "r.json", "--diff-lines=5", "--extension=.", "--extension=../x", "-o",
                        "-c work_mem=64MB -c 'search_path=a, b'", "--freeze=2024-01-01",
                        "--pg-config=/pg/bin/pg_config", "--locale=C", "--stock", "t"},
                       &a);
  EXPECT_EQ(o.jobs, 3);
  EXPECT_TRUE(o.isolate);
  EXPECT_TRUE(o.accept);
  EXPECT_EQ(o.diff_head_lines, 5);
  EXPECT_TRUE(a.tap);
  EXPECT_EQ(a.junit, "j.xml");
  EXPECT_EQ(a.json, "r.json");
  EXPECT_EQ(o.server.extensions, (std::vector<fs::path>{".", "../x"}));
  EXPECT_EQ(o.server.settings, (std::vector<std::string>{"work_mem=64MB", "search_path=a, b"}));
  EXPECT_EQ(o.server.freeze, "2024-01-01");
  EXPECT_EQ(o.server.pg_config, "/pg/bin/pg_config");
  EXPECT_EQ(o.server.locale, "C");
  EXPECT_FALSE(o.server.preload_pg_unit_tests);
}

TEST(Options, RepeatedPgConfigIsAVersionMatrixAndPgConfigsTheDefaultList) {
  const auto one = parse({"--pg-config=/a/pg_config", "t"});
  EXPECT_EQ(one.server.pg_config, "/a/pg_config");
  EXPECT_TRUE(one.installations.empty());
  const auto two = parse({"--pg-config=/a/pg_config", "--pg-config", "/b/pg_config", "t"});
  EXPECT_EQ(two.installations, (std::vector<std::string>{"/a/pg_config", "/b/pg_config"}));
  EXPECT_EQ(pg_unit_tests::cli::split_pg_configs(" /a/pg_config:/b/pg_config  /c/pg_config\n"),
            (std::vector<std::string>{"/a/pg_config", "/b/pg_config", "/c/pg_config"}));
  // $PG_CONFIGS when no --pg-config is given; --pg-config wins over it.
  setenv("PG_CONFIGS", "/x/pg_config /y/pg_config", 1);
  const auto from_env = parse({"t"});
  const auto given = parse({"--pg-config=/a/pg_config", "t"});
  setenv("PG_CONFIGS", "/x/pg_config", 1);
  const auto single_from_env = parse({"t"});
  unsetenv("PG_CONFIGS");
  EXPECT_EQ(from_env.installations, (std::vector<std::string>{"/x/pg_config", "/y/pg_config"}));
  EXPECT_TRUE(given.installations.empty());
  EXPECT_EQ(given.server.pg_config, "/a/pg_config");
  EXPECT_EQ(single_from_env.server.pg_config, "/x/pg_config");
}

TEST(Options, IsolationSelectsSpecsAndItsDefaultDatabase) {
  EXPECT_EQ(parse({"t"}).kind, regress::Kind::kRegress);
  const auto o = parse({"--isolation", "--isolationtester=/x/isolationtester", "s"});
  EXPECT_EQ(o.kind, regress::Kind::kIsolation);
  EXPECT_EQ(o.isolationtester, "/x/isolationtester");
  EXPECT_TRUE(o.dbnames.empty());  // the runner picks isolation_regression
}

TEST(Options, BadValuesAreParseErrors) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--jobs=0"},
                                               {"--max-connections=x"},
                                               {"--no-such-option"},
                                               {"--port=many"}}) {
    EXPECT_THROW(parse(args), CLI::ParseError) << args[0];
  }
  const std::string e = error_of([] { parse({"-o", "-F", "t"}); });
  EXPECT_NE(e.find("'-F' is not a setting"), std::string::npos) << e;
}

// --- reports -------------------------------------------------------------------------------------

namespace {

// Bytes a test may print that are not valid UTF-8 or not allowed in XML: invalid sequences, an
// overlong encoding, a surrogate, C0 controls (ESC of a colour code, NUL, vertical tab, form
// feed, carriage return), DEL, and the noncharacters U+FFFE and U+FFFF.
constexpr char kNasty[] =
    "latin1 \xe9t\xe9, overlong \xc0\xaf, surrogate \xed\xa0\x80, \x1b[31mred\x1b[0m, nul \0, "
    "vt \x0b ff \x0c cr \r del \x7f, nonchars \xef\xbf\xbe \xef\xbf\xbf, ok \xc3\xa9 "
    "\xf0\x9f\x90\x98";
const std::string kNastyBytes(kNasty, sizeof kNasty - 1);

regress::TestResult result(const std::string& name, regress::Status status) {
  regress::TestResult t;
  t.name = name;
  t.status = status;
  t.milliseconds = 12.5;
  t.database = "regression";
  t.input = "/suite/sql/" + name + ".sql";
  t.result = "/suite/results/" + name + ".out";
  t.expected = "/suite/expected/" + name + ".out";
  t.started = std::chrono::system_clock::now();
  if (status != regress::Status::kOk) {
    t.diff = "diff -U3 " + t.expected.string() + " " + t.result.string() +
             "\n--- a\n+++ b\n@@ -1 +1 @@\n- expected\n+ " + kNastyBytes + "\n";
  }
  return t;
}

// A summary with each outcome: passed, failed (with nasty bytes in its diff and message),
// ignored, accepted.
regress::Summary mixed_summary() {
  regress::Summary s;
  s.server = "ephemeral server \xff";
  s.seconds = 1.25;
  s.tests = {result("passes", regress::Status::kOk), result("fails", regress::Status::kFailed),
             result("ignored", regress::Status::kIgnored),
             result("accepted", regress::Status::kAccepted)};
  s.tests[1].message = "psql said " + kNastyBytes;
  s.tests[1].psql_status = 3;
  s.tests[1].diff_truncated = true;
  s.passed = s.failed = s.ignored = s.accepted = 1;
  return s;
}

const std::string kSchema = std::string(PGUT_FIXTURES) + "/regress/junit.xsd";

test_support::Output xmllint(const fs::path& file) {
  return test_support::run({"/usr/bin/xmllint", "--noout", "--schema", kSchema, file.string()});
}

// The TAP a run prints (observer, then the summary), as a string.
std::string tap_of(const regress::Summary& s) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  auto tap = regress::tap_observer(out);
  tap->begin(static_cast<int>(s.tests.size()), s.server);
  tap->setup("creating database \"regression\"");
  regress::Group g;
  for (const auto& t : s.tests) g.tests.push_back(t.name);
  tap->group_started(g, true);
  for (const auto& t : s.tests) tap->test_finished(t);
  tap->group_finished(g, s.tests);
  regress::print_tap_summary(s, out);
  std::fclose(out);
  std::string text(buf, size);
  std::free(buf);
  return text;
}

// prove's verdict on a TAP stream (it runs `cat FILE` as the test).
test_support::Output prove(const Scratch& s, const std::string& tap) {
  const auto file = s.write("run.tap", tap);
  return test_support::run({"/usr/bin/prove", "--verbose", "--exec", "/bin/cat", file.string()});
}

}  // namespace

TEST(Junit, OneDeclarationValidAgainstTheSchemaWithEveryOutcome) {
  Scratch s;
  const auto file = s.dir / "junit.xml";
  regress::write_junit(mixed_summary(), file);
  const std::string xml = s.read("junit.xml");
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0), 0u) << xml;
  EXPECT_EQ(xml.find("<?xml", 1), std::string::npos) << xml;
  const auto r = xmllint(file);
  EXPECT_EQ(r.status, 0) << r.err << xml;
  EXPECT_NE(xml.find("<failure"), std::string::npos);
  EXPECT_NE(xml.find("<skipped"), std::string::npos);
}

TEST(Junit, SeveralRunsAreOneTestsuiteEach) {
  Scratch s;
  regress::Summary regress_run = mixed_summary();
  regress_run.version = "15.20";
  regress::Summary isolation_run;
  isolation_run.suite = "isolation";
  isolation_run.tests = {result("spec", regress::Status::kFailed)};
  isolation_run.failed = 1;
  regress::write_junit({regress_run, isolation_run}, s.dir / "junit.xml");
  const auto r = xmllint(s.dir / "junit.xml");
  EXPECT_EQ(r.status, 0) << r.err << s.read("junit.xml");
  const std::string xml = s.read("junit.xml");
  EXPECT_NE(xml.find("<testsuites name=\"pg_unit_tests regress\" tests=\"5\" failures=\"2\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"isolation\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<property name=\"version\" value=\"15.20\""), std::string::npos) << xml;
}

namespace {

// A matrix of two installations: one ran (with every outcome), one could not.
std::vector<regress::Summary> matrix_runs() {
  regress::Summary ran = mixed_summary();
  ran.label = ran.version = "15.20";
  ran.pg_config = "/usr/lib/postgresql/15/bin/pg_config";
  regress::Summary failed;
  failed.label = "18.3-cassert";
  failed.version = "18.3";
  failed.pg_config = "/pg/18/bin/pg_config";
  failed.error = "syntax error in schedule file \"s\" line 1: ignore: a " + kNastyBytes;
  return {ran, failed};
}

}  // namespace

TEST(Junit, AVersionMatrixIsOneTestsuitePerInstallationAndOneThatCouldNotRunIsAnError) {
  Scratch s;
  regress::write_junit(matrix_runs(), s.dir / "junit.xml");
  const auto r = xmllint(s.dir / "junit.xml");
  EXPECT_EQ(r.status, 0) << r.err << s.read("junit.xml");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((s.dir / "junit.xml").c_str()));
  auto suites = doc.child("testsuites");
  EXPECT_EQ(suites.attribute("tests").as_int(), 5);
  EXPECT_EQ(suites.attribute("errors").as_int(), 1);
  auto first = suites.child("testsuite");
  auto second = first.next_sibling("testsuite");
  EXPECT_STREQ(first.attribute("name").value(), "regress (PostgreSQL 15.20)");
  EXPECT_STREQ(first.child("testcase").attribute("classname").value(), "regress.pg15_20");
  EXPECT_STREQ(second.attribute("name").value(), "regress (PostgreSQL 18.3-cassert)");
  EXPECT_EQ(second.attribute("errors").as_int(), 1);
  EXPECT_NE(std::string(second.child("testcase").child("error").attribute("message").value())
                .find("syntax error"),
            std::string::npos);
  EXPECT_STREQ(second.child("properties")
                   .find_child_by_attribute("property", "name", "pg_config")
                   .attribute("value")
                   .value(),
               "/pg/18/bin/pg_config");
}

TEST(Json, AVersionMatrixNamesEachInstallationAndTheWorstExitCode) {
  Scratch s;
  regress::write_json(matrix_runs(), s.dir / "report.json");
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(s.read("report.json"))) << s.read("report.json");
  EXPECT_EQ(j["exit_code"], 2);
  EXPECT_EQ(j["failed"], 1);
  ASSERT_EQ(j["runs"].size(), 2u);
  EXPECT_EQ(j["runs"][0]["label"], "15.20");
  EXPECT_EQ(j["runs"][0]["exit_code"], 1);
  EXPECT_EQ(j["runs"][0]["tests"].size(), 4u);
  EXPECT_EQ(j["runs"][1]["label"], "18.3-cassert");
  EXPECT_EQ(j["runs"][1]["version"], "18.3");
  EXPECT_EQ(j["runs"][1]["exit_code"], 2);
  EXPECT_EQ(regress::exit_code(matrix_runs()), 2);
}

TEST(Tap, AVersionMatrixIsOneStreamProveReads) {
  Scratch s;
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  auto tap = regress::tap_observer(out);
  const auto runs = matrix_runs();
  for (const auto& run : runs) {
    tap->installation_started(run.label, run.pg_config);
    if (run.error.empty()) {
      tap->begin(static_cast<int>(run.tests.size()), run.server);
      regress::Group g;
      for (const auto& t : run.tests) g.tests.push_back(t.name);
      tap->group_finished(g, run.tests);
    }
    tap->installation_finished(run);
  }
  regress::print_tap_summary(runs, out);
  std::fclose(out);
  const std::string text(buf, size);
  std::free(buf);
  const auto r = prove(s, text);
  // The failed test and the installation that could not run.
  EXPECT_NE(r.out.find("Failed 2/5 subtests"), std::string::npos) << r.out << text;
  EXPECT_EQ(r.out.find("Parse errors"), std::string::npos) << r.out << text;
  EXPECT_NE(text.find("not ok 2 - [15.20] fails\n"), std::string::npos) << text;
  EXPECT_NE(text.find("not ok 5 - [18.3-cassert] could not run\n"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("TAP version 13\n", 0), 0u) << text;
}

TEST(Junit, EmptyRunIsValidToo) {
  Scratch s;
  regress::Summary empty;
  regress::write_junit(empty, s.dir / "junit.xml");
  const auto r = xmllint(s.dir / "junit.xml");
  EXPECT_EQ(r.status, 0) << r.err << s.read("junit.xml");
}

TEST(Json, StrictParserReadsEveryOutcomeAndNastyBytes) {
  Scratch s;
  regress::write_json(mixed_summary(), s.dir / "report.json");
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(s.read("report.json"))) << s.read("report.json");
  ASSERT_EQ(j["tests"].size(), 4u);
  std::vector<std::string> statuses;
  for (const auto& t : j["tests"]) statuses.push_back(t["status"]);
  EXPECT_EQ(statuses, (std::vector<std::string>{"ok", "failed", "ignored", "accepted"}));
  EXPECT_EQ(j["exit_code"], 1);
  EXPECT_EQ(j["tests"][1]["psql_status"], 3);
  // Valid UTF-8 is kept as it was.
  EXPECT_NE(j["tests"][1]["diff"].get<std::string>().find("ok \xc3\xa9 \xf0\x9f\x90\x98"),
            std::string::npos);
}

TEST(Tap, ProveReadsEveryOutcomeAndNastyBytes) {
  Scratch s;
  const std::string tap = tap_of(mixed_summary());
  const auto r = prove(s, tap);
  // One real failure: the ignored one is a TODO, which prove does not count against the run.
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Failed 1/4 subtests"), std::string::npos) << r.out << tap;
  EXPECT_EQ(r.out.find("Parse errors"), std::string::npos) << r.out << tap;
  EXPECT_EQ(r.err.find("YAML"), std::string::npos) << r.err << tap;
  EXPECT_NE(r.out.find("not ok 3 - ignored # TODO"), std::string::npos) << r.out;
}

TEST(Tap, PassingRunIsAPassForProve) {
  Scratch s;
  regress::Summary ok;
  ok.tests = {result("a", regress::Status::kOk), result("b", regress::Status::kOk)};
  ok.passed = 2;
  const auto r = prove(s, tap_of(ok));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Result: PASS"), std::string::npos) << r.out;
}
