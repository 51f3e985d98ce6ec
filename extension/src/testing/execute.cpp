// unit_tests._execute(statement text, OUT rows jsonb, OUT row_count bigint): runs the statement of
// unit_tests.rolled_back() (inside its subtransaction) and returns what it gave.
//
// Written in C because no PL/pgSQL statement runs every statement a user may hand over: EXECUTE
// refuses SELECT ... INTO; wrapping the statement as a subquery (to collect its rows) refuses
// data-modifying WITH, and deciding which statements return rows by looking at their text fails on
// leading comments and on words inside string literals. SPI_execute runs any statement, or several
// separated by semicolons, as psql would, and says whether the last one returned rows: then rows is
// a JSON array with one object per row (as row_to_json makes it; a column name given twice keeps
// the last value), else NULL; row_count is the number of rows returned or processed. Errors are the
// statement's own, with its text as CONTEXT. No C++ object is alive here: every call may ereport.
#include "pg/boundary.hpp"

namespace pgut::testing {
namespace {

Datum execute(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    "unit_tests.rolled_back: the statement must not be NULL");
  TupleDesc result_desc = nullptr;
  if (get_call_result_type(fcinfo, nullptr, &result_desc) != TYPEFUNC_COMPOSITE)
    throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "unit_tests._execute must return a record");
  result_desc = BlessTupleDesc(result_desc);
  const char* statement = text_to_cstring(PG_GETARG_TEXT_PP(0));
  MemoryContext caller = CurrentMemoryContext;

  if (SPI_connect() != SPI_OK_CONNECT)
    throw pg::Error(ERRCODE_INTERNAL_ERROR, "unit_tests.rolled_back: SPI_connect failed");
  const int rc = SPI_execute(statement, false, 0);
  if (rc == SPI_ERROR_TRANSACTION)
    throw pg::Error(ERRCODE_INVALID_TRANSACTION_TERMINATION,
                    "unit_tests.rolled_back: transaction control (BEGIN, COMMIT, ROLLBACK, "
                    "SAVEPOINT ...) cannot run inside a rolled-back block",
                    "The block is a subtransaction that is always rolled back; leave those "
                    "statements out.");
  if (rc == SPI_ERROR_COPY)
    throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                    "unit_tests.rolled_back: COPY to or from the client cannot run inside a "
                    "rolled-back block",
                    "Use COPY with a file or a program, or INSERT.");
  if (rc < 0)
    throw pg::Error(ERRCODE_INTERNAL_ERROR,
                    std::string("unit_tests.rolled_back: ") + SPI_result_code_string(rc));

  const uint64 count = SPI_processed;
  Datum values[2] = {0, Int64GetDatum(static_cast<int64>(count))};
  bool nulls[2] = {true, false};
  if (SPI_tuptable != nullptr) {
    TupleDesc desc = BlessTupleDesc(SPI_tuptable->tupdesc);
    StringInfoData json;
    initStringInfo(&json);
    appendStringInfoChar(&json, '[');
    for (uint64 i = 0; i < count; ++i) {
      if (i > 0) appendStringInfoString(&json, ", ");
      Datum row = heap_copy_tuple_as_datum(SPI_tuptable->vals[i], desc);
      text* object = DatumGetTextPP(DirectFunctionCall1(row_to_json, row));
      appendBinaryStringInfo(&json, VARDATA_ANY(object),
                             static_cast<int>(VARSIZE_ANY_EXHDR(object)));
    }
    appendStringInfoChar(&json, ']');
    // The result outlives SPI's memory: made in the caller's.
    MemoryContext spi = MemoryContextSwitchTo(caller);
    values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
    MemoryContextSwitchTo(spi);
    nulls[0] = false;
  }
  SPI_finish();
  return HeapTupleGetDatum(heap_form_tuple(result_desc, values, nulls));
}

}  // namespace
}  // namespace pgut::testing

PGUT_SQL_FUNCTION(pgut_execute, pgut::testing::execute)
