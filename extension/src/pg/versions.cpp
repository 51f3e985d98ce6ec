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

}  // namespace pgut::pg
