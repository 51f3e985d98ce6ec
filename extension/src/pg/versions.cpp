#include "pg/versions.hpp"

#include <cstdlib>
#include <cstring>

namespace pgut::pg {

void* guc_alloc(std::size_t size) {
#if PG_VERSION_NUM >= 160000
  return ::guc_malloc(LOG, size);
#else
  return std::malloc(size);
#endif
}

char* guc_strdup(const char* text) {
#if PG_VERSION_NUM >= 160000
  return ::guc_strdup(LOG, text);
#else
  return strdup(text);
#endif
}

void guc_free(void* pointer) {
#if PG_VERSION_NUM >= 160000
  ::guc_free(pointer);
#else
  std::free(pointer);
#endif
}

bool owns_relation(Oid relid, Oid role) {
#if PG_VERSION_NUM >= 160000
  return object_ownercheck(RelationRelationId, relid, role);
#else
  return pg_class_ownercheck(relid, role);
#endif
}

namespace {

ExecutorRun_hook_type previous_executor_run = nullptr;
ExecutorRunHook executor_run_hook = nullptr;

#if PG_VERSION_NUM >= 180000
void on_executor_run(QueryDesc* query_desc, ScanDirection direction, uint64 count) {
  executor_run_hook(ExecutorRunArgs{query_desc, direction, count, true});
}
#else
void on_executor_run(QueryDesc* query_desc, ScanDirection direction, uint64 count,
                     bool execute_once) {
  executor_run_hook(ExecutorRunArgs{query_desc, direction, count, execute_once});
}
#endif

}  // namespace

void install_executor_run_hook(ExecutorRunHook hook) {
  executor_run_hook = hook;
  previous_executor_run = ExecutorRun_hook;
  ExecutorRun_hook = on_executor_run;
}

void run_previous_executor_run(const ExecutorRunArgs& a) {
#if PG_VERSION_NUM >= 180000
  if (previous_executor_run)
    previous_executor_run(a.query_desc, a.direction, a.count);
  else
    standard_ExecutorRun(a.query_desc, a.direction, a.count);
#else
  if (previous_executor_run)
    previous_executor_run(a.query_desc, a.direction, a.count, a.execute_once);
  else
    standard_ExecutorRun(a.query_desc, a.direction, a.count, a.execute_once);
#endif
}

}  // namespace pgut::pg
