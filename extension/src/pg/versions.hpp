// Every difference between the PostgreSQL versions the extension supports (15 to 18), as small
// helpers: feature code calls these and never tests PG_VERSION_NUM itself.
//
// 15, 16 and 18 are built and tested. 17 cannot be built here; its guards follow from the 16 and
// 18 headers and from where each change landed: GUC memory (guc_malloc), DecodeDateTime's extra
// argument and object_ownercheck() since 16 (17 has them), PGPROC's vxid.lxid since 17,
// ExecutorRun_hook without execute_once since 18 (17 still has it).
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

// The local transaction id of a backend's current top-level transaction (17 moved it into
// PGPROC.vxid).
inline LocalTransactionId local_transaction_id(const PGPROC* proc) {
#if PG_VERSION_NUM >= 170000
  return proc->vxid.lxid;
#else
  return proc->lxid;
#endif
}

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

// ExecutorRun_hook's arguments: 18 dropped execute_once (17 still passes it).
struct ExecutorRunArgs {
  QueryDesc* query_desc;
  ScanDirection direction;
  uint64 count;
  bool execute_once;  // before 18 only; true on 18
};
using ExecutorRunHook = void (*)(const ExecutorRunArgs& args);
// Makes `hook` the ExecutorRun hook; the one it replaces (or standard_ExecutorRun) is called by
// run_previous_executor_run().
void install_executor_run_hook(ExecutorRunHook hook);
void run_previous_executor_run(const ExecutorRunArgs& args);

}  // namespace pgut::pg
