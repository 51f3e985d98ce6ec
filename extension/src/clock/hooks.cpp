// Time control is made of: the patched built-in functions (builtins.cpp), the plan rewrite
// (plans.cpp), shared memory for the database and server clocks (shared.cpp), and one session
// hook that publishes each client session's clock settings for unit_tests.clocks. No executor,
// parse-analysis or PL/pgSQL hook: nothing needs to run before a statement, because the readers of
// the clock compute the mocked time themselves, lazily, once per statement (state.hpp).
#include "clock/hooks.hpp"

#include "clock/builtins.hpp"
#include "clock/plans.hpp"
#include "clock/shared.hpp"
#include "clock/state.hpp"

namespace pgut::clock {
namespace {

ClientAuthentication_hook_type prev_client_authentication = nullptr;

// Runs in every client backend once it is authenticated; its settings from the startup packet and
// ALTER ROLE/DATABASE ... SET follow, and each is published as it is assigned.
void on_client_authentication(Port* port, int status) {
  if (prev_client_authentication) prev_client_authentication(port, status);
  shared::claim_slot();
}

}  // namespace

void install_hooks() {
  shared::request_memory();
  install_builtin_clocks();
  install_plan_rewrite();
  prev_client_authentication = ClientAuthentication_hook;
  ClientAuthentication_hook = on_client_authentication;
}

}  // namespace pgut::clock
