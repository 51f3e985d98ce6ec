#include "cli/clock_command.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/lazy_options.hpp"
#include "pg_unit_tests/clock.hpp"
#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::cli {
namespace {

constexpr const char* kFooter = R"(
Every session of the database (or, with --server, of every database) reads the new clock from
its next statement on; a session's own clock (unit_tests.freeze() in that session) wins over it.
The database needs the extension: CREATE EXTENSION pg_unit_tests (pg_unit_tests start --create
pg_unit_tests). Times without an offset, 'today' and intervals are read in the TimeZone of that
database's sessions (PGTZ overrides it); the new instant is printed in UTC. Exit codes: 0 done,
2 bad usage, 7 no server at the URI, 9 the server refused (no such database, no extension, no
privilege, a value it cannot read: its message is quoted).
)";

}  // namespace

ClockCommand::ClockCommand(CLI::App& app) {
  clock_ = app.add_subcommand(
      "clock", "move the clock of every session of a database (or of the server) at once");
  clock_->require_subcommand(1);
  clock_->footer(kFooter);
  freeze_ = clock_->add_subcommand("freeze", "stop the clock at TIMESTAMP (default: now)");
  travel_ = clock_->add_subcommand("travel", "move the clock to TIMESTAMP; it keeps running");
  advance_ = clock_->add_subcommand("advance", "move a frozen or travelled clock by INTERVAL");
  release_ = clock_->add_subcommand("release", "back to real time");
  list_ = clock_->add_subcommand(
      "list", "the server and database clocks, and the sessions whose clock is mocked");
  add_options_when_reached(clock_, [this] {
    // Words, joined by spaces: `advance 1 day`, and after "--" one that starts with "-" (CLI11
    // reads no option there): `advance -- -1 day`. Required in run(), which sees those too.
    freeze_->add_option("at", words_, "a timestamp with time zone: 2024-02-29T12:00:00Z")
        ->type_name("TIMESTAMP");
    travel_->add_option("to", words_, "a timestamp with time zone")->type_name("TIMESTAMP");
    advance_
        ->add_option("by", words_,
                     "an interval: '1 day', P1M; a negative one after --: advance -- -2 hours")
        ->type_name("INTERVAL");
    list_->add_flag("--json", json_, "print JSON");
    for (CLI::App* cmd : {freeze_, travel_, advance_, release_, list_}) {
      cmd->add_option("--uri", uri_,
                      "the server and database (default: $DATABASE_URL, which `pg_unit_tests exec` "
                      "sets)")
          ->type_name("URI");
      if (cmd == list_) continue;
      auto* database = cmd->add_option("--database", database_,
                                       "move this database's clock (default: the URI's)")
                           ->type_name("NAME");
      cmd->add_flag("--server", server_, "move the server's clock (every database; superusers)")
          ->excludes(database);
    }
  });
}

std::optional<int> ClockCommand::run(const std::vector<std::string>& after_dashes) {
  if (!*clock_) return std::nullopt;
  std::vector<std::string> words = words_;
  words.insert(words.end(), after_dashes.begin(), after_dashes.end());
  const char* needs = *advance_ ? "an INTERVAL" : *travel_ ? "a TIMESTAMP" : nullptr;
  const char* name = *advance_ ? "advance" : *travel_ ? "travel" : *freeze_ ? "freeze" : nullptr;
  if (words.empty() && needs) {
    throw Error(ExitCode::kUsage,
                *advance_ ? std::string("clock advance needs an INTERVAL: pg_unit_tests clock "
                                        "advance '1 day' (a negative one after --: pg_unit_tests "
                                        "clock advance -- -1 day)")
                          : fmt::format("clock {} needs {}: pg_unit_tests clock {} "
                                        "2024-02-29T12:00:00Z",
                                        name, needs, name));
  }
  if (!words.empty() && !name) {
    throw Error(ExitCode::kUsage, fmt::format("clock {} takes no value, and '{}' was given",
                                              *release_ ? "release" : "list", words.front()));
  }
  for (const auto& w : words) value_ += (value_.empty() ? "" : " ") + w;
  std::string uri = uri_;
  if (uri.empty()) {
    const char* env = std::getenv("DATABASE_URL");
    if (env == nullptr || *env == '\0')
      throw Error(ExitCode::kUsage,
                  "clock: no server given: pass --uri URI (as `pg_unit_tests start` prints it) "
                  "or run under `pg_unit_tests exec`, which sets DATABASE_URL");
    uri = env;
  }
  try {
    return run_on(uri);
  } catch (const Error& e) {
    // Messages are printed and logged: never the URI's password (the connection failures quote
    // the URI).
    throw Error(e.code(), hide_password(e.what(), uri));
  }
}

int ClockCommand::run_on(const std::string& uri) {
  const clock::Target target{database_, server_};
  if (*list_) {
    const auto rows = clock::list(uri);
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : rows)
        out.push_back({{"kind", r.kind},
                       {"pid", r.pid},
                       {"database", r.database},
                       {"user", r.user},
                       {"application", r.application},
                       {"mode", r.mode},
                       {"frozen_at", r.frozen_at},
                       {"time_offset", r.time_offset},
                       {"source", r.source}});
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      if (!rows.empty())
        std::printf("%-8s %-7s %-20s %-9s %-30s %s\n", "KIND", "PID", "DATABASE", "MODE",
                    "INSTANT/OFFSET", "SOURCE");
      for (const auto& r : rows)
        std::printf("%-8s %-7s %-20s %-9s %-30s %s\n", r.kind.c_str(), r.pid.c_str(),
                    r.database.c_str(), r.mode.c_str(),
                    (r.mode == "frozen" ? r.frozen_at : r.time_offset).c_str(), r.source.c_str());
    }
    return 0;
  }
  std::string now;
  if (*freeze_) now = clock::freeze(uri, value_.empty() ? "now" : value_, target);
  if (*travel_) now = clock::travel(uri, value_, target);
  if (*advance_) now = clock::advance(uri, value_, target);
  if (*release_) clock::release(uri, target);
  if (!now.empty()) std::printf("%s\n", now.c_str());
  return 0;
}

}  // namespace pg_unit_tests::cli
