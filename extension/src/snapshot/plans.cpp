// unit_tests._snapshot_restore_rows(statement, ctids, keys, data, ids): runs restore()'s statement
// for one written table with a plan kept for the session.
//
// restore() builds one statement per written table (its name and columns are in the text) and
// used to EXECUTE it, which parses, analyses and plans it on every call: about half a millisecond
// per table, as much as running it. Here the plan is prepared once per backend and statement text
// (SPI_prepare + SPI_keepplan) and reused; PostgreSQL's plan cache re-plans it by itself when the
// table changes (and drift is an error before restore gets here anyway). The text is the key, so a
// table renamed or altered simply gets a new entry; the least recently used plan goes when the
// cache is full.
//
// The statement takes $1 tid[], $2 text[], $3 text[], $4 tid[] and returns one row of the
// function's OUT columns (gone tid[], ctids tid[], xmins xid[], data text[]). It runs as the
// caller, like EXECUTE would: this function grants nothing. No C++ object is alive here: every
// call may ereport.
#include "pg/boundary.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/memutils.h"
}

#include <cstring>

namespace pgut::snapshot {
namespace {

constexpr int kArgs = 4;
constexpr int kSlots = 64;  // a few snapshots of a few dozen tables each

struct Slot {
  uint32 hash;
  char* sql;  // TopMemoryContext
  SPIPlanPtr plan;
  uint64 used;
};
Slot slots[kSlots];
uint64 clock_tick = 0;

// The kept plan for sql, prepared on first use. Called inside SPI_connect.
SPIPlanPtr plan_for(const char* sql) {
  uint32 hash = hash_bytes(reinterpret_cast<const unsigned char*>(sql), std::strlen(sql));
  Slot* victim = &slots[0];
  for (Slot& slot : slots) {
    if (slot.plan != nullptr && slot.hash == hash && std::strcmp(slot.sql, sql) == 0) {
      slot.used = ++clock_tick;
      return slot.plan;
    }
    if (slot.used < victim->used) victim = &slot;
  }
  Oid types[kArgs] = {TIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIDARRAYOID};
  // Generic from the start: a custom plan (the plan cache's choice for the first five runs) would
  // be planned again on every restore, which is the cost this cache is for.
  SPIPlanPtr plan = SPI_prepare_cursor(sql, kArgs, types, CURSOR_OPT_GENERIC_PLAN);
  if (plan == nullptr)
    throw pg::Error(ERRCODE_INTERNAL_ERROR,
                    std::string("unit_tests.restore: could not prepare a statement: ") +
                        SPI_result_code_string(SPI_result));
  if (SPI_keepplan(plan) != 0)
    throw pg::Error(ERRCODE_INTERNAL_ERROR, "unit_tests.restore: could not keep a plan");
  char* copy = MemoryContextStrdup(TopMemoryContext, sql);
  if (victim->plan != nullptr) {
    SPI_freeplan(victim->plan);
    pfree(victim->sql);
  }
  *victim = Slot{hash, copy, plan, ++clock_tick};
  return plan;
}

Datum restore_rows(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    "unit_tests._snapshot_restore_rows: the statement must not be NULL");
  char* sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
  Datum values[kArgs];
  char nulls[kArgs];
  for (int i = 0; i < kArgs; ++i) {
    values[i] = PG_ARGISNULL(i + 1) ? Datum(0) : PG_GETARG_DATUM(i + 1);
    nulls[i] = PG_ARGISNULL(i + 1) ? 'n' : ' ';
  }
  TupleDesc expected = nullptr;
  if (get_call_result_type(fcinfo, nullptr, &expected) != TYPEFUNC_COMPOSITE)
    throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                    "unit_tests._snapshot_restore_rows must return a row");

  if (SPI_connect() != SPI_OK_CONNECT)
    throw pg::Error(ERRCODE_INTERNAL_ERROR, "unit_tests.restore: SPI_connect failed");
  SPIPlanPtr plan = plan_for(sql);
  int rc = SPI_execute_plan(plan, values, nulls, false, 0);
  if (rc != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != expected->natts)
    throw pg::Error(ERRCODE_INTERNAL_ERROR,
                    "unit_tests.restore: a per-table statement did not return one row");
  for (int i = 0; i < expected->natts; ++i) {
    if (TupleDescAttr(SPI_tuptable->tupdesc, i)->atttypid != TupleDescAttr(expected, i)->atttypid)
      throw pg::Error(ERRCODE_INTERNAL_ERROR,
                      "unit_tests.restore: a per-table statement returned other types");
  }
  // Copied into the caller's memory, under the function's own row type.
  BlessTupleDesc(expected);
  Datum result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], expected));
  SPI_finish();
  return result;
}

}  // namespace
}  // namespace pgut::snapshot

PGUT_SQL_FUNCTION(pgut_snapshot_restore_rows, pgut::snapshot::restore_rows)
