// A subcommand's options are built when the parser reaches it, not all at every start: one call
// runs one subcommand, and building every option table cost more than the rest of the CLI's start
// together (bench/cli_startup.cpp).
#pragma once

#include <functional>
#include <utility>

#include <CLI/CLI.hpp>

namespace pg_unit_tests::cli {

// Runs add_options when CLI11 reaches cmd (its preparse callback runs before cmd's arguments are
// parsed), once however often the command line is parsed again.
inline void add_options_when_reached(CLI::App* cmd, std::function<void()> add_options) {
  cmd->preparse_callback([done = false, add = std::move(add_options)](std::size_t) mutable {
    if (!std::exchange(done, true)) add();
  });
}

}  // namespace pg_unit_tests::cli
