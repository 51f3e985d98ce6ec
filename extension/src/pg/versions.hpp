// Every difference between the PostgreSQL versions the extension supports (15 to 18), as small
// helpers: feature code calls these and never tests PG_VERSION_NUM itself.
//
// 15, 16 and 18 are built and tested. 17 cannot be built here; its guards follow from the 16 and
// 18 headers and from where each change landed: GUC memory (guc_malloc), the date/time decoders'
// extra argument, object_ownercheck() and object_aclcheck() since 16 (17 has them), ProcNumber and
// ModifyTable.mergeJoinConditions since 17, the statement-level partition pruning list since 18.
#pragma once

#include "pg/postgres.hpp"

#include <cstddef>

namespace pgut::pg {

// Memory for a GUC check hook's *newval and *extra. PostgreSQL 16 and later allocate and free GUC
// values in their own memory context (guc_malloc/guc_free: a malloc'd value crashes the backend
// when PostgreSQL frees it); 15 uses malloc/free. Like malloc, these return nullptr when out of
// memory (16+: after logging it), never ereport(ERROR): check hooks must not throw.
void* guc_alloc(std::size_t size);
char* guc_strdup(const char* text);
void guc_free(void* pointer);

// DecodeDateTime() as in 15; 16 added an out-parameter for details of a time zone error, which
// the callers here do not report.
inline int decode_date_time(char** field, int* ftype, int nf, int* dtype, struct pg_tm* tm,
                            fsec_t* fsec, int* tzp) {
#if PG_VERSION_NUM >= 160000
  DateTimeErrorExtra extra;
  return DecodeDateTime(field, ftype, nf, dtype, tm, fsec, tzp, &extra);
#else
  return DecodeDateTime(field, ftype, nf, dtype, tm, fsec, tzp);
#endif
}

// Does `role` own the relation `relid` (or is it a superuser)? 16 replaced the per-class
// ownercheck functions with object_ownercheck().
bool owns_relation(Oid relid, Oid role);

// DecodeTimeOnly() (time and timetz input), as decode_date_time().
inline int decode_time_only(char** field, int* ftype, int nf, int* dtype, struct pg_tm* tm,
                            fsec_t* fsec, int* tzp) {
#if PG_VERSION_NUM >= 160000
  DateTimeErrorExtra extra;
  return DecodeTimeOnly(field, ftype, nf, dtype, tm, fsec, tzp, &extra);
#else
  return DecodeTimeOnly(field, ftype, nf, dtype, tm, fsec, tzp);
#endif
}

// Gives a relation a new, empty file, as TRUNCATE does (the old one is deleted at commit); the
// caller holds an ACCESS EXCLUSIVE lock on it. 16 renamed relfilenodes relfilenumbers.
inline void set_new_relation_file(Relation relation) {
#if PG_VERSION_NUM >= 160000
  RelationSetNewRelfilenumber(relation, relation->rd_rel->relpersistence);
#else
  RelationSetNewRelfilenode(relation, relation->rd_rel->relpersistence);
#endif
}

// Does the date/time token (lower case, from ParseDateTime) name a time zone abbreviation? The
// decoders look abbreviations up before their own keywords, so an abbreviation shadows one. 16
// moved the token type into an out-parameter.
inline bool is_timezone_abbreviation(int index, char* token) {
  int offset = 0;
  pg_tz* tz = nullptr;
#if PG_VERSION_NUM >= 160000
  int type = UNKNOWN_FIELD;
  DateTimeErrorExtra extra;
  if (DecodeTimezoneAbbrev(index, token, &type, &offset, &tz, &extra) != 0) return false;
#else
  int type = DecodeTimezoneAbbrev(index, token, &offset, &tz);
#endif
  return type != UNKNOWN_FIELD;
}

// This backend's index in ProcGlobal->allProcs (17 renamed pgprocno to ProcNumber); client
// backends have one below MaxBackends.
inline int proc_number() {
#if PG_VERSION_NUM >= 170000
  return MyProcNumber;
#else
  return MyProc != nullptr ? MyProc->pgprocno : -1;
#endif
}

// May the role connect to the database (CONNECT privilege)? 16 replaced the per-class ACL checks
// with object_aclcheck().
inline bool may_connect(Oid database, Oid role) {
#if PG_VERSION_NUM >= 160000
  return object_aclcheck(DatabaseRelationId, database, role, ACL_CONNECT) == ACLCHECK_OK;
#else
  return pg_database_aclcheck(database, role, ACL_CONNECT) == ACLCHECK_OK;
#endif
}

// Expression tree walkers: up to 15 they take K&R-style callbacks (`bool (*)()`, which C++ reads
// as taking no arguments; the cast goes through void (*)(), the one function type GCC lets match
// any other), from 16 typed ones behind a macro.
using Walker = bool (*)(Node* node, void* context);
using Mutator = Node* (*)(Node* node, void* context);

inline bool walk_expression(Node* node, Walker walker, void* context) {
#if PG_VERSION_NUM >= 160000
  return expression_tree_walker(node, walker, context);
#else
  return expression_tree_walker(
      node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(walker)), context);
#endif
}

inline Node* mutate_expression(Node* node, Mutator mutator, void* context) {
#if PG_VERSION_NUM >= 160000
  return expression_tree_mutator(node, mutator, context);
#else
  return expression_tree_mutator(
      node, reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(mutator)), context);
#endif
}

// ModifyTable's per-relation MERGE join conditions (17 and later), else nullptr.
inline List** merge_join_conditions(ModifyTable* node) {
#if PG_VERSION_NUM >= 170000
  return &node->mergeJoinConditions;
#else
  (void)node;
  return nullptr;
#endif
}

// The run-time pruning info an Append or MergeAppend carries itself (before 18), else nullptr.
inline PartitionPruneInfo* plan_prune_info(Plan* plan) {
#if PG_VERSION_NUM < 180000
  if (IsA(plan, Append)) return reinterpret_cast<Append*>(plan)->part_prune_info;
  if (IsA(plan, MergeAppend)) return reinterpret_cast<MergeAppend*>(plan)->part_prune_info;
#else
  (void)plan;
#endif
  return nullptr;
}

// The statement-level list of PartitionPruneInfo (18 moved them there), else NIL.
inline List* statement_prune_infos(PlannedStmt* stmt) {
#if PG_VERSION_NUM >= 180000
  return stmt->partPruneInfos;
#else
  (void)stmt;
  return NIL;
#endif
}

}  // namespace pgut::pg
