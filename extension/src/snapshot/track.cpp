// unit_tests._snapshot_track(): the change-tracking trigger of data snapshots.
//
// Fired AFTER each row written (FOR EACH ROW: INSERT, UPDATE, DELETE, also for COPY, MERGE,
// ON CONFLICT and rows routed to a partition) and after TRUNCATE (FOR EACH STATEMENT). It appends
// one row to unit_tests._snapshot_changes: the table, a position from
// unit_tests._snapshot_write_seq, and the ctid of the row version it replaced or deleted (old_ctid)
// and of the one it wrote (new_ctid); TRUNCATE logs both as NULL ("every row"). restore() then
// looks only at those ctids.
//
// Written in C for speed: one heap_insert per row, no executor, no SPI. That is safe because the
// log table is ours, has no index, no constraint, no TOASTable column (checked below), and
// heap_insert is transactional: a rolled-back write leaves no log row. table_open() checks no
// privilege, so the writer needs none on the log (the PL/pgSQL version was SECURITY DEFINER).
// No C++ object is alive here: every call may ereport.
//
// Each trigger carries this installation's identity (unit_tests._snapshot_installation, random)
// as its argument. A trigger restored from a dump has another one (or, restored into a new cluster,
// one no installation has): pg_dump carries the triggers but not the snapshots, so such a trigger
// logs nothing (snapshot() replaces it). The identity is read once per backend and function, with a
// plain heap scan of the one-row table.
//
// unit_tests._snapshot_quiet(relids) is restore()'s switch for its own writes: while it is on, the
// trigger logs nothing for those tables in this backend. restore() turns it on for the tables no
// other snapshot tracks (the others need to see restore's writes) and off when it is done; the
// switch also goes off when the (sub)transaction that turned it on ends in an error, so a failed
// restore never leaves a table untracked. Only a table's owner may silence it (an owner can
// disable the trigger anyway).
#include "pg/boundary.hpp"
#include "pg/versions.hpp"

#include <cstring>

namespace pgut::snapshot {
namespace {

constexpr const char* kSchema = "unit_tests";
constexpr const char* kLog = "_snapshot_changes";
constexpr const char* kSequence = "_snapshot_write_seq";
constexpr int kColumns = 4;  // relid oid, seq bigint, old_ctid tid, new_ctid tid

Oid lookup(const char* name, Oid schema) {
  Oid oid = get_relname_relid(name, schema);
  if (!OidIsValid(oid))
    throw pg::Error(ERRCODE_UNDEFINED_TABLE,
                    std::string("pg_unit_tests: relation unit_tests.") + name + " is missing",
                    "Reinstall the extension: DROP EXTENSION pg_unit_tests CASCADE; CREATE "
                    "EXTENSION pg_unit_tests;");
  return oid;
}

void append(Oid relid, const ItemPointerData* old_ctid, const ItemPointerData* new_ctid) {
  Oid schema = get_namespace_oid(kSchema, false);
  Oid log_oid = lookup(kLog, schema);
  Oid seq_oid = lookup(kSequence, schema);
  int64 seq = nextval_internal(seq_oid, false);

  Relation log = table_open(log_oid, RowExclusiveLock);
  TupleDesc desc = RelationGetDescr(log);
  // simple_heap_insert writes heap pages, whatever the table's access method.
  if (log->rd_rel->relam != HEAP_TABLE_AM_OID || log->rd_rel->relhasindex ||
      desc->natts != kColumns || TupleDescAttr(desc, 0)->atttypid != OIDOID ||
      TupleDescAttr(desc, 1)->atttypid != INT8OID || TupleDescAttr(desc, 2)->atttypid != TIDOID ||
      TupleDescAttr(desc, 3)->atttypid != TIDOID) {
    table_close(log, RowExclusiveLock);
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "pg_unit_tests: unit_tests._snapshot_changes was altered",
                    "Reinstall the extension: DROP EXTENSION pg_unit_tests CASCADE; CREATE "
                    "EXTENSION pg_unit_tests;");
  }
  Datum values[kColumns];
  bool nulls[kColumns] = {false, false, old_ctid == nullptr, new_ctid == nullptr};
  values[0] = ObjectIdGetDatum(relid);
  values[1] = Int64GetDatum(seq);
  values[2] = PointerGetDatum(old_ctid);
  values[3] = PointerGetDatum(new_ctid);
  HeapTuple tuple = heap_form_tuple(desc, values, nulls);
  simple_heap_insert(log, tuple);
  heap_freetuple(tuple);
  table_close(log, NoLock);  // the lock is kept until the end of the transaction
}

// This installation's identity, as read for the trigger function `function` (another function: the
// extension was created again). Plain storage in TopMemoryContext, no C++ object.
struct Installation {
  Oid function = InvalidOid;
  char* token = nullptr;
};
Installation installation;

const char* installation_token(Oid function) {
  if (installation.function == function && installation.token != nullptr) return installation.token;
  Oid schema = get_namespace_oid(kSchema, false);
  Relation table = table_open(lookup("_snapshot_installation", schema), AccessShareLock);
  // Written once, by CREATE EXTENSION: committed, or this transaction's own.
  TableScanDesc scan = table_beginscan(table, SnapshotSelf, 0, nullptr);
  HeapTuple tuple = heap_getnext(scan, ForwardScanDirection);
  char* token = nullptr;
  if (tuple != nullptr && RelationGetDescr(table)->natts == 1 &&
      TupleDescAttr(RelationGetDescr(table), 0)->atttypid == TEXTOID) {
    bool null = true;
    Datum value = heap_getattr(tuple, 1, RelationGetDescr(table), &null);
    if (!null) {
      MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
      token = TextDatumGetCString(value);
      MemoryContextSwitchTo(old);
    }
  }
  table_endscan(scan);
  table_close(table, AccessShareLock);
  if (token == nullptr)
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "pg_unit_tests: unit_tests._snapshot_installation was altered",
                    "Reinstall the extension: DROP EXTENSION pg_unit_tests CASCADE; CREATE "
                    "EXTENSION pg_unit_tests;");
  if (installation.token != nullptr) pfree(installation.token);
  installation.token = token;
  installation.function = function;
  return token;
}

// The tables whose writes this backend does not log (restore() in progress): plain storage in
// TopMemoryContext, no C++ object (the callbacks run where errors are being handled).
struct Quiet {
  Oid* relids = nullptr;
  int count = 0;
  int level = 0;  // transaction nesting level that turned it on
  bool callbacks = false;
};
Quiet quiet;

void quiet_off() {
  if (quiet.relids != nullptr) pfree(quiet.relids);
  quiet.relids = nullptr;
  quiet.count = 0;
  quiet.level = 0;
}

bool is_quiet(Oid relid) {
  for (int i = 0; i < quiet.count; ++i)
    if (quiet.relids[i] == relid) return true;
  return false;
}

void on_xact(XactEvent event, void*) {
  // Whatever the outcome, the switch does not outlive the transaction.
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
      event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
    quiet_off();
}

void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  if (quiet.count == 0) return;
  int level = GetCurrentTransactionNestLevel();
  if (event == SUBXACT_EVENT_ABORT_SUB && level <= quiet.level)
    quiet_off();
  else if (event == SUBXACT_EVENT_COMMIT_SUB && level == quiet.level)
    quiet.level = level - 1;
}

// unit_tests._snapshot_quiet(relids oid[]): silences the tables among relids that the current user
// owns (NULL or empty: none) until called again or the (sub)transaction ends; returns how many.
Datum set_quiet(FunctionCallInfo fcinfo) {
  if (!quiet.callbacks) {
    RegisterXactCallback(on_xact, nullptr);
    RegisterSubXactCallback(on_subxact, nullptr);
    quiet.callbacks = true;
  }
  quiet_off();
  if (PG_ARGISNULL(0)) return Int32GetDatum(0);
  ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
  Datum* elements = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  deconstruct_array(array, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elements, &nulls, &n);
  // Checked first, stored after: an error (a table dropped since) leaves the switch off.
  int count = 0;
  for (int i = 0; i < n; ++i) {
    if (!nulls[i] && pg::owns_relation(DatumGetObjectId(elements[i]), GetUserId()))
      elements[count++] = elements[i];
  }
  if (count == 0) return Int32GetDatum(0);
  quiet.relids = static_cast<Oid*>(MemoryContextAlloc(TopMemoryContext, count * sizeof(Oid)));
  for (int i = 0; i < count; ++i) quiet.relids[i] = DatumGetObjectId(elements[i]);
  quiet.count = count;
  quiet.level = GetCurrentTransactionNestLevel();
  return Int32GetDatum(count);
}

Datum track(FunctionCallInfo fcinfo) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                    "unit_tests._snapshot_track() is a trigger function",
                    "unit_tests.snapshot() creates the triggers that use it.");
  auto* data = reinterpret_cast<TriggerData*>(fcinfo->context);
  TriggerEvent event = data->tg_event;
  if (!TRIGGER_FIRED_AFTER(event))
    throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                    "unit_tests._snapshot_track() must fire AFTER the write");
  // Copies: the slots belong to the trigger manager.
  ItemPointerData old_ctid;
  ItemPointerData new_ctid;
  bool has_old = false;
  bool has_new = false;
  if (TRIGGER_FIRED_FOR_ROW(event)) {
    if (TRIGGER_FIRED_BY_INSERT(event)) {
      ItemPointerCopy(&data->tg_trigslot->tts_tid, &new_ctid);
      has_new = true;
    } else if (TRIGGER_FIRED_BY_UPDATE(event)) {
      ItemPointerCopy(&data->tg_trigslot->tts_tid, &old_ctid);
      ItemPointerCopy(&data->tg_newslot->tts_tid, &new_ctid);
      has_old = has_new = true;
    } else if (TRIGGER_FIRED_BY_DELETE(event)) {
      ItemPointerCopy(&data->tg_trigslot->tts_tid, &old_ctid);
      has_old = true;
    }
    // A row without a valid ctid cannot be tracked row by row: log it as "every row".
    if ((has_old && !ItemPointerIsValid(&old_ctid)) || (has_new && !ItemPointerIsValid(&new_ctid)))
      has_old = has_new = false;
  }
  if (quiet.count > 0 && is_quiet(RelationGetRelid(data->tg_relation)))
    return PointerGetDatum(nullptr);
  const Trigger* trigger = data->tg_trigger;
  if (trigger->tgnargs != 1 ||
      std::strcmp(trigger->tgargs[0], installation_token(fcinfo->flinfo->fn_oid)) != 0)
    return PointerGetDatum(nullptr);  // restored from a dump: no snapshot here needs it
  append(RelationGetRelid(data->tg_relation), has_old ? &old_ctid : nullptr,
         has_new ? &new_ctid : nullptr);
  return PointerGetDatum(nullptr);
}

}  // namespace
}  // namespace pgut::snapshot

PGUT_SQL_FUNCTION(pgut_snapshot_track, pgut::snapshot::track)
PGUT_SQL_FUNCTION(pgut_snapshot_quiet, pgut::snapshot::set_quiet)
