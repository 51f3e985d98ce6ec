// Time control is made of the patched built-in functions (builtins.cpp) and the plan rewrite
// (plans.cpp). No executor, parse-analysis or PL/pgSQL hook: nothing needs to run before a
// statement, because the readers of the clock compute the mocked time themselves (state.hpp).
#include "clock/hooks.hpp"

#include "clock/builtins.hpp"
#include "clock/plans.hpp"

namespace pgut::clock {

void install_hooks() {
  install_builtin_clocks();
  install_plan_rewrite();
}

}  // namespace pgut::clock
