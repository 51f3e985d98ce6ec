// Unit tests (no server): the command line parsed, nothing run.
#include <gtest/gtest.h>

#include <cstdio>

#include "cli/app.hpp"
#include "pg_unit_tests/error.hpp"

using pg_unit_tests::Error;
using pg_unit_tests::ExitCode;
using pg_unit_tests::cli::App;
using pg_unit_tests::cli::parse_option_string;

namespace {

struct Parsed {
  std::optional<int> done;  // exit code when parsing was all there was to do
  std::string out, err;
};

// Parses argv (without the program name) with a fresh App, capturing what it prints.
Parsed parse(App& app, std::vector<std::string> args) {
  args.insert(args.begin(), "pg_unit_tests");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Parsed p;
  p.done = app.parse(static_cast<int>(argv.size()), argv.data(), out, err);
  for (auto [f, s] : {std::pair{out, &p.out}, std::pair{err, &p.err}}) {
    std::rewind(f);
    for (int c; (c = std::fgetc(f)) != EOF;) s->push_back(static_cast<char>(c));
    std::fclose(f);
  }
  return p;
}

}  // namespace

TEST(OptionString, SettingsInEveryForm) {
  EXPECT_EQ(parse_option_string("-c work_mem=64MB -cfsync=off --max-connections=5 a=b"),
            (std::vector<std::string>{"work_mem=64MB", "fsync=off", "max_connections=5", "a=b"}));
  EXPECT_EQ(parse_option_string("-c \"search_path=a, b\" -c 'x=it''s' -c y=a\\ b"),
            (std::vector<std::string>{"search_path=a, b", "x=its", "y=a b"}));
  EXPECT_TRUE(parse_option_string("  ").empty());
}

TEST(OptionString, WhatIsNoSettingIsAUsageError) {
  for (const char* bad : {"work_mem", "-c", "-x 1", "-c 'unterminated"}) {
    try {
      parse_option_string(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsage) << bad;
    }
  }
}

TEST(CommandLine, StartOptionsBecomeServerOptions) {
  App app;
  auto p = parse(app, {"start", "--tcp", "-w", "5", "-o", "-c work_mem=1MB", "-o", "-c a=b",
                       "--locale", "C", "--create", "x", "--freeze", "2024-01-01"});
  EXPECT_FALSE(p.done) << p.err;
  const auto o = app.start_args().to_options();
  EXPECT_TRUE(o.tcp);
  EXPECT_EQ(o.idle_timeout.count(), 5);
  EXPECT_EQ(o.settings, (std::vector<std::string>{"work_mem=1MB", "a=b"}));
  EXPECT_EQ(o.locale, "C");
  EXPECT_EQ(o.create, std::vector<std::string>{"x"});
  EXPECT_EQ(o.freeze, "2024-01-01");
  EXPECT_TRUE(o.preload_pg_unit_tests);
}

TEST(CommandLine, ExecTakesEverythingAfterTheDoubleDashAsTheCommand) {
  App app;
  auto p = parse(app, {"exec", "--tcp", "--", "sh", "-c", "--tcp", "--"});
  EXPECT_FALSE(p.done) << p.err;
  EXPECT_EQ(app.command(), (std::vector<std::string>{"sh", "-c", "--tcp", "--"}));
}

TEST(CommandLine, HelpListsTheExitCodes) {
  App app;
  auto p = parse(app, {"--help"});
  EXPECT_EQ(p.done, 0);
  EXPECT_NE(p.out.find("Exit codes"), std::string::npos) << p.out;
}

TEST(CommandLine, UnknownOptionIsOneLineAndExitTwo) {
  App app;
  auto p = parse(app, {"start", "--no-such-option"});
  EXPECT_EQ(p.done, 2);
  EXPECT_NE(p.err.find("--no-such-option"), std::string::npos) << p.err;
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
}

TEST(CommandLine, IdleTimeoutSaysTheValidRangeInWords) {
  for (const char* bad : {"-5", "abc", "1.5", ""}) {
    App app;
    auto p = parse(app, {"start", "-w", bad});
    EXPECT_EQ(p.done, 2) << bad;
    EXPECT_NE(p.err.find("give a whole number, 0 or more (0: never)"), std::string::npos) << p.err;
    EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
  }
  App app;
  EXPECT_FALSE(parse(app, {"start", "-w", "0"}).done);
}

TEST(CommandLine, UnknownCommandListsTheCommands) {
  App app;
  auto p = parse(app, {"strat"});
  EXPECT_EQ(p.done, 2);
  EXPECT_NE(p.err.find("unknown command 'strat'"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("start, stop, exec, regress, list, cache"), std::string::npos) << p.err;
}

TEST(CommandLine, ExecWithoutDoubleDashSuggestsIt) {
  App app;
  auto p = parse(app, {"exec", "--tcp", "pytest", "-x"});
  EXPECT_EQ(p.done, 2);
  EXPECT_NE(p.err.find("exec takes its command after '--', as in: pg_unit_tests exec -- pytest"),
            std::string::npos)
      << p.err;
}

TEST(CommandLine, IdleTimeoutOnlyWhereItMeansSomething) {
  // exec's server goes with exec, and cache warm starts none that waits for clients.
  for (std::vector<std::string> args : {std::vector<std::string>{"exec", "-w", "3", "--", "true"},
                                        std::vector<std::string>{"cache", "warm", "-w", "3"}}) {
    App app;
    auto p = parse(app, args);
    EXPECT_EQ(p.done, 2) << args[0];
    EXPECT_NE(p.err.find("-w"), std::string::npos) << p.err;
  }
}

// Options are added to a subcommand only when the parser reaches it (cli/lazy_options.hpp): each
// still has all of its own, and no other's.
TEST(CommandLine, EverySubcommandHasItsOptions) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"start", "--help"}, "--idle-timeout"},
      {{"exec", "--help"}, "--tcp"},
      {{"stop", "--help"}, "--all"},
      {{"list", "--help"}, "--json"},
      {{"regress", "--help"}, "--schedule"},
      {{"cache", "warm", "--help"}, "--servers"},
      {{"cache", "status", "--help"}, "--json"},
      {{"createdb", "--help"}, "--template"},
      {{"dropdb", "--help"}, "--uri"},
      {{"snapshot", "save", "--help"}, "--strategy"},
      {{"snapshot", "restore", "--help"}, "--strategy"},
      {{"snapshot", "list", "--help"}, "--json"},
      {{"snapshot", "drop", "--help"}, "--uri"},
      {{"clock", "freeze", "--help"}, "--server"},
      {{"clock", "advance", "--help"}, "INTERVAL"},
      {{"clock", "list", "--help"}, "--json"},
  };
  for (const auto& [args, option] : cases) {
    App app;
    auto p = parse(app, args);
    EXPECT_EQ(p.done, 0) << args[0] << ": " << p.err;
    EXPECT_NE(p.out.find(option), std::string::npos) << args[0] << " --help lacks " << option;
  }
  App app;
  auto p = parse(app, {"stop", "--tcp"});
  EXPECT_EQ(p.done, 2);
  EXPECT_NE(p.err.find("--tcp"), std::string::npos) << p.err;
}

TEST(CommandLine, ParsingAgainAddsNoOptionTwice) {
  App app;
  EXPECT_FALSE(parse(app, {"start", "--tcp"}).done);
  auto p = parse(app, {"start", "--stock"});
  EXPECT_FALSE(p.done) << p.err;
  EXPECT_TRUE(app.start_args().stock);
}

TEST(CommandLine, InitOptionsBecomeServerOptionsInOrder) {
  App app;
  auto p = parse(app, {"exec", "--init", "schema", "--init", "seed.sql", "--init-command",
                       "goose up", "--init-key", "migrations", "--", "true"});
  ASSERT_FALSE(p.done) << p.err;
  const auto o = app.start_args().to_options();
  ASSERT_EQ(o.init.size(), 2u);
  EXPECT_EQ(o.init[0], "schema");
  EXPECT_EQ(o.init[1], "seed.sql");
  EXPECT_EQ(o.init_command, "goose up");
  ASSERT_EQ(o.init_key.size(), 1u);
  EXPECT_EQ(o.init_key[0], "migrations");
}
