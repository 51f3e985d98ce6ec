// Installation of the clock's hooks (executor, planner, utility, parse analysis, built-in clocks).
#pragma once

namespace pgut::clock {

// Installs every hook; call from _PG_init while preloading with time control on.
void install_hooks();
// The PL/pgSQL plugin that re-applies the timestamps before each statement (plpgsql_plugin.cpp).
void install_plpgsql_plugin();

}  // namespace pgut::clock
