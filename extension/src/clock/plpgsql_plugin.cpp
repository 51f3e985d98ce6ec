// A PL/pgSQL instrumentation plugin that re-applies the mocked timestamps before each statement.
//
// Why: inside a procedure, COMMIT and ROLLBACK start a new transaction whose start timestamp is
// read from the real clock, and a PL/pgSQL expression evaluated without the executor
// (x := CURRENT_TIMESTAMP, RAISE ... CURRENT_DATE) then runs without any executor hook. The
// plugin's stmt_beg callback is PL/pgSQL's own extension point before every statement.
//
// Only one plugin pointer exists (the "PLpgSQL_plugin" rendezvous variable). A plugin installed
// before us (a debugger, a profiler) keeps working: every callback is forwarded, and the function
// pointers PL/pgSQL hands to the plugin are passed on. A plugin installed after us that does not
// chain replaces us; then only this corner case reads the real clock.
#include "clock/hooks.hpp"
#include "clock/state.hpp"
#include "pg/plpgsql.hpp"

namespace pgut::clock {
namespace {

PLpgSQL_plugin plugin;
PLpgSQL_plugin* previous = nullptr;

void on_func_setup(PLpgSQL_execstate* estate, PLpgSQL_function* func) {
  if (previous == nullptr) return;
  previous->error_callback = plugin.error_callback;
  previous->assign_expr = plugin.assign_expr;
  previous->assign_value = plugin.assign_value;
  previous->eval_datum = plugin.eval_datum;
  previous->cast_value = plugin.cast_value;
  if (previous->func_setup) previous->func_setup(estate, func);
}

void on_func_beg(PLpgSQL_execstate* estate, PLpgSQL_function* func) {
  if (previous && previous->func_beg) previous->func_beg(estate, func);
}

void on_func_end(PLpgSQL_execstate* estate, PLpgSQL_function* func) {
  if (previous && previous->func_end) previous->func_end(estate, func);
}

void on_stmt_beg(PLpgSQL_execstate* estate, PLpgSQL_stmt* stmt) {
  sync();
  if (previous && previous->stmt_beg) previous->stmt_beg(estate, stmt);
}

void on_stmt_end(PLpgSQL_execstate* estate, PLpgSQL_stmt* stmt) {
  if (previous && previous->stmt_end) previous->stmt_end(estate, stmt);
}

}  // namespace

void install_plpgsql_plugin() {
  auto** slot = reinterpret_cast<PLpgSQL_plugin**>(find_rendezvous_variable("PLpgSQL_plugin"));
  previous = *slot;
  plugin.func_setup = on_func_setup;
  plugin.func_beg = on_func_beg;
  plugin.func_end = on_func_end;
  plugin.stmt_beg = on_stmt_beg;
  plugin.stmt_end = on_stmt_end;
  *slot = &plugin;
}

}  // namespace pgut::clock
