// The hooks that keep the transaction and statement timestamps mocked for every statement.
//
// Where PostgreSQL 15 sets the timestamps, and which hook runs next:
//  - every protocol message resets the statement timestamp, StartTransaction() copies it into the
//    transaction timestamp: parse analysis (post_parse_analyze_hook) or, for statements that skip
//    analysis (Bind of a cached plan, EXECUTE), planning, ExecutorStart or ProcessUtility re-apply;
//  - the extended protocol's Execute message resets the statement timestamp after Bind ran
//    ExecutorStart: ExecutorRun re-applies;
//  - utility statements (COPY FROM defaults, CALL, SET) never reach the planner: ProcessUtility
//    applies before and after (a SET of the clock settings takes effect at once).
// The statement timestamp gets its real value back at the end of every top-level statement, so
// log_min_duration_statement measures real durations.
//
// Each hook chains to the previous one; the nesting level is restored in PG_FINALLY.
#include "clock/hooks.hpp"

#include "clock/builtins.hpp"
#include "clock/reanalyze.hpp"
#include "clock/state.hpp"
#include "pg/versions.hpp"

namespace pgut::clock {
namespace {

post_parse_analyze_hook_type prev_post_parse_analyze = nullptr;
planner_hook_type prev_planner = nullptr;
ExecutorStart_hook_type prev_executor_start = nullptr;
ExecutorFinish_hook_type prev_executor_finish = nullptr;
ExecutorEnd_hook_type prev_executor_end = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;
ClientAuthentication_hook_type prev_client_authentication = nullptr;

// Depth of executor runs and utility statements: 0 at top level.
int nesting = 0;

void on_post_parse_analyze(ParseState* pstate, Query* query, JumbleState* jstate) {
  if (state.mode != Mode::real || timestamps_touched) {
    bool stale = transaction_timestamp_stale();
    sync_slow();
    if (stale && nesting == 0) reanalyze_if_time_literals(pstate, query);
  }
  if (prev_post_parse_analyze) prev_post_parse_analyze(pstate, query, jstate);
}

PlannedStmt* on_planner(Query* parse, const char* query_string, int cursor_options,
                        ParamListInfo bound_params) {
  sync();
  if (prev_planner) return prev_planner(parse, query_string, cursor_options, bound_params);
  return standard_planner(parse, query_string, cursor_options, bound_params);
}

void on_executor_start(QueryDesc* query_desc, int eflags) {
  sync();
  if (prev_executor_start)
    prev_executor_start(query_desc, eflags);
  else
    standard_ExecutorStart(query_desc, eflags);
}

void on_executor_run(const pg::ExecutorRunArgs& args) {
  sync();
  nesting++;
  PG_TRY();
  { pg::run_previous_executor_run(args); }
  PG_FINALLY();
  { nesting--; }
  PG_END_TRY();
}

void on_executor_finish(QueryDesc* query_desc) {
  nesting++;
  PG_TRY();
  {
    if (prev_executor_finish)
      prev_executor_finish(query_desc);
    else
      standard_ExecutorFinish(query_desc);
  }
  PG_FINALLY();
  { nesting--; }
  PG_END_TRY();
}

void on_executor_end(QueryDesc* query_desc) {
  if (prev_executor_end)
    prev_executor_end(query_desc);
  else
    standard_ExecutorEnd(query_desc);
  if (nesting == 0) restore_real_statement_timestamp();
}

void on_process_utility(PlannedStmt* pstmt, const char* query_string, bool read_only_tree,
                        ProcessUtilityContext context, ParamListInfo params,
                        QueryEnvironment* query_env, DestReceiver* dest, QueryCompletion* qc) {
  sync();
  nesting++;
  PG_TRY();
  {
    if (prev_process_utility)
      prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest,
                           qc);
    else
      standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest,
                              qc);
  }
  PG_FINALLY();
  { nesting--; }
  PG_END_TRY();
  if (nesting == 0) restore_real_statement_timestamp();
}

// Runs in every client backend before its own settings (startup options, ALTER ROLE/DATABASE SET)
// are applied; the values inherited from the postmaster (-c pg_unit_tests.frozen_at) start to
// count here.
void on_client_authentication(Port* port, int status) {
  if (prev_client_authentication) prev_client_authentication(port, status);
  on_session_start();
}

}  // namespace

void install_hooks() {
  prev_post_parse_analyze = post_parse_analyze_hook;
  post_parse_analyze_hook = on_post_parse_analyze;
  prev_planner = planner_hook;
  planner_hook = on_planner;
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = on_executor_start;
  pg::install_executor_run_hook(on_executor_run);
  prev_executor_finish = ExecutorFinish_hook;
  ExecutorFinish_hook = on_executor_finish;
  prev_executor_end = ExecutorEnd_hook;
  ExecutorEnd_hook = on_executor_end;
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = on_process_utility;
  prev_client_authentication = ClientAuthentication_hook;
  ClientAuthentication_hook = on_client_authentication;
  install_builtin_clocks();
  install_plpgsql_plugin();
}

}  // namespace pgut::clock
