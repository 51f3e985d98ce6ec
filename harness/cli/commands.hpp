// The CLI's commands, each a few lines over the library.
#pragma once

#include <signal.h>

#include <iterator>
#include <string>
#include <vector>

#include "pg_unit_tests/command.hpp"
#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests::cli {

struct StartArgs {
  bool tcp = false;
  long idle_timeout = 60;
  int owner = 0;                     // start --owner PID
  std::vector<std::string> options;  // -o strings, each "-c a=b -c c=d"
  std::string locale, encoding, pg_config, freeze;
  std::vector<std::string> extensions, create;
  bool stock = false;
  std::vector<std::string> init, init_key;  // --init, --init-key
  std::string init_command;

  ServerOptions to_options() const;
};

// Splits a postgres-style option string ("-c a=b -c 'c=d e'") into name=value settings. Throws
// Error(kUsage) for anything that is not a setting.
std::vector<std::string> parse_option_string(const std::string& options);

// While exec or regress starts its server (and, for regress, runs the suite), SIGINT, SIGTERM,
// SIGHUP and SIGQUIT end the process as their default action does, even when it was started with
// them ignored (a shell's background job ignores SIGINT): the server it owns goes with it, and
// nothing runs after an interrupted start. The handler resets itself and raises the signal again.
class InterruptibleStart {
 public:
  InterruptibleStart() {
    struct sigaction sa {};
    sa.sa_handler = [](int sig) { raise(sig); };
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &sa, &previous_[i]);
  }
  InterruptibleStart(const InterruptibleStart&) = delete;
  InterruptibleStart& operator=(const InterruptibleStart&) = delete;
  ~InterruptibleStart() {
    for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &previous_[i], nullptr);
  }

 private:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction previous_[std::size(kSignals)];
};

// How start prints the server: its URI, a JSON object, or `export` lines for a shell's eval.
enum class StartOutput { kUri, kJson, kEnv };

int start(const StartArgs& args, StartOutput output);
int stop(const std::vector<std::string>& targets, bool all);
// `databases`: per-worker databases from the server's pool (exec --databases N), exported as
// PG_UNIT_TESTS_DATABASES (names, comma-separated) and DATABASE_URL_0 ... DATABASE_URL_<N-1>.
int exec(const StartArgs& args, const std::vector<std::string>& command, int databases = 0);

// The environment of `exec` as shell lines for eval: export NAME='value' (single-quoted, a ' as
// '\''), or unset NAME for what exec unsets.
std::string shell_exports(const Environment& environment);
int list(bool json);
int cache_warm(const StartArgs& args, int servers);
int cache_status(bool json);
int cache_clear();

}  // namespace pg_unit_tests::cli
