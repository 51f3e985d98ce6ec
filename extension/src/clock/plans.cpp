// Unusual technique: rewriting CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_TIME, LOCALTIME and
// LOCALTIMESTAMP in every plan, after the planner made it.
//
// Why: these SQL keywords are not function calls but SQLValueFunction nodes, which the executor
// evaluates with direct C calls (GetSQLCurrentDate() ...) that read the real transaction start
// timestamp; no table or hook leads there. Every such node in a plan is replaced by the equivalent
// expression over now(), which the patched built-in table redirects (builtins.cpp): CURRENT_DATE
// becomes now()::date, CURRENT_TIMESTAMP(3) becomes now()::timestamptz(3), and so on, with the
// conversion and rounding functions the keywords use themselves, so every value is the same as
// stock PostgreSQL's at the same instant. Rewriting the finished plan (rather than the query)
// also catches what the planner itself adds: SQL functions it inlines (one-argument age(), user
// functions whose body uses CURRENT_DATE), default arguments, run-time partition pruning steps.
// Every plan is rewritten, whether or not time is mocked when it is made, because plans are cached
// (prepared statements, PL/pgSQL) and a clock may change before they run. The walk over a plan's
// expression fields follows setrefs.c; fields that moved between versions are in pg/versions.hpp.
//
// CALL evaluates its arguments without a plan (ExecuteCallStmt): ProcessUtility rewrites a copy of
// its call expression the same way.
//
// The price: EXPLAIN shows now() where the query says CURRENT_TIMESTAMP ((now())::date for
// CURRENT_DATE ...) on a server with time control on. What stays out of reach: expressions that
// PostgreSQL prepares without the planner, from the catalogs (column defaults filled in by COPY
// FROM and ALTER TABLE, CHECK and domain constraints, trigger WHEN conditions, partition bounds) or
// from raw statements (EXECUTE's parameters, COPY's WHERE, ALTER COLUMN TYPE's USING): there the
// keywords read the real clock (README, "Which clocks obey"); now() and the literals ('now',
// 'today') obey there too.
#include "clock/plans.hpp"

#include "pg/versions.hpp"

namespace pgut::clock {
namespace {

planner_hook_type prev_planner = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;

bool is_clock_keyword(const Node* node) {
  if (node == nullptr || !IsA(node, SQLValueFunction)) return false;
  switch (reinterpret_cast<const SQLValueFunction*>(node)->op) {
    case SVFOP_CURRENT_DATE:
    case SVFOP_CURRENT_TIME:
    case SVFOP_CURRENT_TIME_N:
    case SVFOP_CURRENT_TIMESTAMP:
    case SVFOP_CURRENT_TIMESTAMP_N:
    case SVFOP_LOCALTIME:
    case SVFOP_LOCALTIME_N:
    case SVFOP_LOCALTIMESTAMP:
    case SVFOP_LOCALTIMESTAMP_N:
      return true;
    default:
      return false;
  }
}

bool contains_walker(Node* node, void* context) {
  if (node == nullptr) return false;
  if (is_clock_keyword(node)) return true;
  return pg::walk_expression(node, contains_walker, context);
}

// fn(arg), displayed as a cast.
Node* convert(Oid fn, Oid type, Node* arg, int location) {
  FuncExpr* call =
      makeFuncExpr(fn, type, list_make1(arg), InvalidOid, InvalidOid, COERCE_EXPLICIT_CAST);
  call->location = location;
  return reinterpret_cast<Node*>(call);
}

// fn(arg, typmod): the rounding the keywords with a precision apply.
Node* with_precision(Oid fn, Oid type, Node* arg, int32 typmod, int location) {
  Const* precision =
      makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(typmod), false, true);
  FuncExpr* call = makeFuncExpr(fn, type, list_make2(arg, precision), InvalidOid, InvalidOid,
                                COERCE_EXPLICIT_CAST);
  call->location = location;
  return reinterpret_cast<Node*>(call);
}

// The expression over now() that has the keyword's value (GetSQLCurrentDate() and its siblings
// in date.c and timestamp.c, step by step).
Node* replacement(const SQLValueFunction* svf) {
  const int at = svf->location;
  FuncExpr* now_call =
      makeFuncExpr(F_NOW, TIMESTAMPTZOID, NIL, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
  now_call->location = at;
  Node* now_node = reinterpret_cast<Node*>(now_call);
  switch (svf->op) {
    case SVFOP_CURRENT_DATE:
      return convert(F_DATE_TIMESTAMPTZ, DATEOID, now_node, at);
    case SVFOP_CURRENT_TIME:
      return convert(F_TIMETZ_TIMESTAMPTZ, TIMETZOID, now_node, at);
    case SVFOP_CURRENT_TIME_N:
      return with_precision(F_TIMETZ_TIMETZ_INT4, TIMETZOID,
                            convert(F_TIMETZ_TIMESTAMPTZ, TIMETZOID, now_node, at), svf->typmod,
                            at);
    case SVFOP_CURRENT_TIMESTAMP_N:
      return with_precision(F_TIMESTAMPTZ_TIMESTAMPTZ_INT4, TIMESTAMPTZOID, now_node, svf->typmod,
                            at);
    case SVFOP_LOCALTIME:
      return convert(F_TIME_TIMESTAMPTZ, TIMEOID, now_node, at);
    case SVFOP_LOCALTIME_N:
      return with_precision(F_TIME_TIME_INT4, TIMEOID,
                            convert(F_TIME_TIMESTAMPTZ, TIMEOID, now_node, at), svf->typmod, at);
    case SVFOP_LOCALTIMESTAMP:
      return convert(F_TIMESTAMP_TIMESTAMPTZ, TIMESTAMPOID, now_node, at);
    case SVFOP_LOCALTIMESTAMP_N:
      return with_precision(F_TIMESTAMP_TIMESTAMP_INT4, TIMESTAMPOID,
                            convert(F_TIMESTAMP_TIMESTAMPTZ, TIMESTAMPOID, now_node, at),
                            svf->typmod, at);
    case SVFOP_CURRENT_TIMESTAMP:
    default:
      return now_node;
  }
}

Node* rewrite_mutator(Node* node, void* context) {
  if (node == nullptr) return nullptr;
  if (is_clock_keyword(node)) return replacement(reinterpret_cast<SQLValueFunction*>(node));
  return pg::mutate_expression(node, rewrite_mutator, context);
}

// Replaces *field by a rewritten copy when it holds a keyword (most plans hold none: then
// nothing is copied).
template <typename T>
void rewrite(T** field) {
  Node* node = reinterpret_cast<Node*>(*field);
  if (node != nullptr && contains_walker(node, nullptr))
    *field = reinterpret_cast<T*>(rewrite_mutator(node, nullptr));
}

void rewrite_prune_info(PartitionPruneInfo* info) {
  ListCell* outer;
  foreach (outer, info->prune_infos) {
    ListCell* inner;
    foreach (inner, static_cast<List*>(lfirst(outer))) {
      auto* rel = static_cast<PartitionedRelPruneInfo*>(lfirst(inner));
      rewrite(&rel->initial_pruning_steps);
      rewrite(&rel->exec_pruning_steps);
    }
  }
}

void rewrite_plan(Plan* plan);

void rewrite_plans(List* plans) {
  ListCell* cell;
  foreach (cell, plans) rewrite_plan(static_cast<Plan*>(lfirst(cell)));
}

void rewrite_plan(Plan* plan) {
  if (plan == nullptr) return;
  check_stack_depth();
  rewrite(&plan->targetlist);
  rewrite(&plan->qual);
  rewrite(&plan->initPlan);
  switch (nodeTag(plan)) {
    case T_Result:
      rewrite(&reinterpret_cast<Result*>(plan)->resconstantqual);
      break;
    case T_ModifyTable: {
      auto* node = reinterpret_cast<ModifyTable*>(plan);
      rewrite(&node->withCheckOptionLists);
      rewrite(&node->returningLists);
      rewrite(&node->onConflictSet);
      rewrite(&node->onConflictWhere);
      rewrite(&node->mergeActionLists);
      if (List** conditions = pg::merge_join_conditions(node)) rewrite(conditions);
      break;
    }
    case T_Append:
      rewrite_plans(reinterpret_cast<Append*>(plan)->appendplans);
      break;
    case T_MergeAppend:
      rewrite_plans(reinterpret_cast<MergeAppend*>(plan)->mergeplans);
      break;
    case T_BitmapAnd:
      rewrite_plans(reinterpret_cast<BitmapAnd*>(plan)->bitmapplans);
      break;
    case T_BitmapOr:
      rewrite_plans(reinterpret_cast<BitmapOr*>(plan)->bitmapplans);
      break;
    case T_SampleScan:
      rewrite(&reinterpret_cast<SampleScan*>(plan)->tablesample);
      break;
    case T_IndexScan: {
      auto* node = reinterpret_cast<IndexScan*>(plan);
      rewrite(&node->indexqual);
      rewrite(&node->indexqualorig);
      rewrite(&node->indexorderby);
      rewrite(&node->indexorderbyorig);
      break;
    }
    case T_IndexOnlyScan: {
      auto* node = reinterpret_cast<IndexOnlyScan*>(plan);
      rewrite(&node->indexqual);
      rewrite(&node->recheckqual);
      rewrite(&node->indexorderby);
      rewrite(&node->indextlist);
      break;
    }
    case T_BitmapIndexScan: {
      auto* node = reinterpret_cast<BitmapIndexScan*>(plan);
      rewrite(&node->indexqual);
      rewrite(&node->indexqualorig);
      break;
    }
    case T_BitmapHeapScan:
      rewrite(&reinterpret_cast<BitmapHeapScan*>(plan)->bitmapqualorig);
      break;
    case T_TidScan:
      rewrite(&reinterpret_cast<TidScan*>(plan)->tidquals);
      break;
    case T_TidRangeScan:
      rewrite(&reinterpret_cast<TidRangeScan*>(plan)->tidrangequals);
      break;
    case T_SubqueryScan:
      rewrite_plan(reinterpret_cast<SubqueryScan*>(plan)->subplan);
      break;
    case T_FunctionScan:
      rewrite(&reinterpret_cast<FunctionScan*>(plan)->functions);
      break;
    case T_ValuesScan:
      rewrite(&reinterpret_cast<ValuesScan*>(plan)->values_lists);
      break;
    case T_TableFuncScan:
      rewrite(&reinterpret_cast<TableFuncScan*>(plan)->tablefunc);
      break;
    case T_ForeignScan: {
      auto* node = reinterpret_cast<ForeignScan*>(plan);
      rewrite(&node->fdw_exprs);
      rewrite(&node->fdw_scan_tlist);
      rewrite(&node->fdw_recheck_quals);
      break;
    }
    case T_CustomScan: {
      auto* node = reinterpret_cast<CustomScan*>(plan);
      rewrite(&node->custom_exprs);
      rewrite(&node->custom_scan_tlist);
      rewrite_plans(node->custom_plans);
      break;
    }
    case T_NestLoop:
      rewrite(&reinterpret_cast<Join*>(plan)->joinqual);
      break;
    case T_MergeJoin: {
      auto* node = reinterpret_cast<MergeJoin*>(plan);
      rewrite(&node->join.joinqual);
      rewrite(&node->mergeclauses);
      break;
    }
    case T_HashJoin: {
      auto* node = reinterpret_cast<HashJoin*>(plan);
      rewrite(&node->join.joinqual);
      rewrite(&node->hashclauses);
      rewrite(&node->hashkeys);
      break;
    }
    case T_Memoize:
      rewrite(&reinterpret_cast<Memoize*>(plan)->param_exprs);
      break;
    case T_Agg:
      rewrite_plans(reinterpret_cast<Agg*>(plan)->chain);
      break;
    case T_WindowAgg: {
      auto* node = reinterpret_cast<WindowAgg*>(plan);
      rewrite(&node->startOffset);
      rewrite(&node->endOffset);
      rewrite(&node->runCondition);
      rewrite(&node->runConditionOrig);
      break;
    }
    case T_Hash:
      rewrite(&reinterpret_cast<Hash*>(plan)->hashkeys);
      break;
    case T_Limit: {
      auto* node = reinterpret_cast<Limit*>(plan);
      rewrite(&node->limitOffset);
      rewrite(&node->limitCount);
      break;
    }
    default:
      break;
  }
  if (PartitionPruneInfo* info = pg::plan_prune_info(plan)) rewrite_prune_info(info);
  rewrite_plan(plan->lefttree);
  rewrite_plan(plan->righttree);
}

void rewrite_statement(PlannedStmt* stmt) {
  rewrite_plan(stmt->planTree);
  rewrite_plans(stmt->subplans);
  ListCell* cell;
  foreach (cell, pg::statement_prune_infos(stmt))
    rewrite_prune_info(static_cast<PartitionPruneInfo*>(lfirst(cell)));
}

PlannedStmt* on_planner(Query* parse, const char* query_string, int cursor_options,
                        ParamListInfo bound_params) {
  PlannedStmt* result = prev_planner
                            ? prev_planner(parse, query_string, cursor_options, bound_params)
                            : standard_planner(parse, query_string, cursor_options, bound_params);
  rewrite_statement(result);
  return result;
}

void on_process_utility(PlannedStmt* pstmt, const char* query_string, bool read_only_tree,
                        ProcessUtilityContext context, ParamListInfo params,
                        QueryEnvironment* query_env, DestReceiver* dest, QueryCompletion* qc) {
  Node* statement = pstmt->utilityStmt;
  if (statement != nullptr && IsA(statement, CallStmt) &&
      contains_walker(reinterpret_cast<Node*>(reinterpret_cast<CallStmt*>(statement)->funcexpr),
                      nullptr)) {
    pstmt = static_cast<PlannedStmt*>(copyObjectImpl(pstmt));
    auto* call = reinterpret_cast<CallStmt*>(pstmt->utilityStmt);
    rewrite(&call->funcexpr);
    read_only_tree = false;
  }
  if (prev_process_utility)
    prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest,
                            qc);
}

}  // namespace

void install_plan_rewrite() {
  prev_planner = planner_hook;
  planner_hook = on_planner;
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = on_process_utility;
}

}  // namespace pgut::clock
