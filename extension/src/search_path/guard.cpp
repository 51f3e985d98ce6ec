// unit_tests._refuse_foreign_objects(): the event trigger function that keeps other objects out of
// the schema unit_tests.
//
// With unit_tests on the search_path (shadow_search_path() puts it first), an unqualified CREATE by
// a role that may create there (a superuser) makes its object in unit_tests, where nobody looks for
// it, and so does a relocatable extension created without SCHEMA. The event trigger
// (20_search_path.sql) fires at ddl_command_end, and only for the commands that create objects
// (WHEN TAG). Every DDL statement of the database pays for what runs here, so it answers from what
// it has at hand first:
// - inside an extension's script (creating_extension): the script's objects are that extension's;
//   a relocatable one installed into unit_tests is refused when its CREATE EXTENSION ends;
// - a statement that makes a temporary table, view or sequence: everything it creates is in the
//   session's temporary schema;
// - unit_tests not on the active search_path: no unqualified name can land there. A name qualified
//   with unit_tests is taken as meant, as in any other schema (the trap is the shadowed path).
// Only then does it list the command's objects (pg_event_trigger_ddl_commands(), through the pinned
// SQL function unit_tests._foreign_objects()), and refuse the first one that landed in unit_tests.
#include "pg/boundary.hpp"

#include <string>

namespace pgut::search_path {
namespace {

constexpr const char* kSchema = "unit_tests";

bool on_search_path(Oid schema) {
  Oid path[32];
  int count = fetch_search_path_array(path, lengthof(path));
  if (count > static_cast<int>(lengthof(path))) {
    List* all = fetch_search_path(false);
    bool found = list_member_oid(all, schema);
    list_free(all);
    return found;
  }
  for (int i = 0; i < count; i++)
    if (path[i] == schema) return true;
  return false;
}

// CREATE TEMP TABLE / TABLE AS / VIEW / SEQUENCE: the relation and everything made with it (row
// type, indexes, sequences of serial columns, statistics copied by LIKE) are temporary.
bool creates_only_temporary(Node* statement) {
  const RangeVar* made = nullptr;
  if (IsA(statement, CreateStmt))
    made = castNode(CreateStmt, statement)->relation;
  else if (IsA(statement, CreateTableAsStmt))
    made = castNode(CreateTableAsStmt, statement)->into->rel;
  else if (IsA(statement, ViewStmt))
    made = castNode(ViewStmt, statement)->view;
  else if (IsA(statement, CreateSeqStmt))
    made = castNode(CreateSeqStmt, statement)->sequence;
  return made != nullptr && made->relpersistence == RELPERSISTENCE_TEMP;
}

Datum refuse_foreign_objects(FunctionCallInfo fcinfo) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
    throw pg::Error(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED,
                    "unit_tests._refuse_foreign_objects() is an event trigger function");
  if (creating_extension) return PointerGetDatum(nullptr);
  const auto* data = reinterpret_cast<EventTriggerData*>(fcinfo->context);
  if (data->parsetree != nullptr && creates_only_temporary(data->parsetree))
    return PointerGetDatum(nullptr);
  Oid schema = get_namespace_oid(kSchema, true);
  if (!OidIsValid(schema) || !on_search_path(schema)) return PointerGetDatum(nullptr);

  // The slow path: a query. Its strings are copied out before SPI_finish frees them.
  MemoryContext caller = CurrentMemoryContext;
  char* tag = nullptr;
  char* identity = nullptr;
  SPI_connect();
  if (SPI_execute("SELECT command_tag, object_identity FROM unit_tests._foreign_objects()", false,
                  1) == SPI_OK_SELECT &&
      SPI_processed > 0) {
    tag = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    identity = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
    tag = MemoryContextStrdup(caller, tag != nullptr ? tag : "");
    identity = MemoryContextStrdup(caller, identity != nullptr ? identity : "");
  }
  SPI_finish();
  if (tag == nullptr) return PointerGetDatum(nullptr);
  throw pg::Error(
      ERRCODE_INSUFFICIENT_PRIVILEGE,
      std::string(tag) + " " + identity +
          " would be created in schema unit_tests, which belongs to the extension pg_unit_tests",
      "unit_tests.shadow_search_path() puts unit_tests first on search_path, so unqualified names "
      "are created there: qualify the name (CREATE TABLE public.t ..., CREATE EXTENSION e SCHEMA "
      "public), or create your objects before shadowing the path.");
}

}  // namespace
}  // namespace pgut::search_path

PGUT_SQL_FUNCTION(pgut_refuse_foreign_objects, pgut::search_path::refuse_foreign_objects)
