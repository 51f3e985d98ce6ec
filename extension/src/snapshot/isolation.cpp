// unit_tests._snapshot_unseen(rel regclass, relids oid[]) → oid: what restore() and snapshot()
// check in REPEATABLE READ and SERIALIZABLE.
//
// Both take their table locks inside a statement, so in those isolation levels the transaction's
// snapshot is older than the locks: a writer that committed in between is invisible to them, and
// restore() would mark as synced a table it did not restore (or snapshot() record rows older than
// its sync point). No SQL can see past the transaction's snapshot, so this function scans rel with
// SnapshotAny and compares, row version by row version, what the transaction's snapshot sees with
// what a snapshot taken now sees. Any difference is a write committed (or rolled back) since; the
// caller then fails with a serialization failure before writing anything. The caller's own writes
// look the same to both (CommandCounterIncrement keeps both command ids current).
//
// With relids, only the rows whose column "relid" is among them count (the write log and the
// snapshot bookkeeping), and the first such relid is returned; without, any row of rel (rel is
// returned). NULL: nothing changed. Needs SELECT on rel. No C++ object is alive here: every call
// may ereport.
#include "pg/boundary.hpp"

namespace pgut::snapshot {
namespace {

bool among(const Datum* relids, const bool* nulls, int n, Oid relid) {
  for (int i = 0; i < n; ++i)
    if (!nulls[i] && DatumGetObjectId(relids[i]) == relid) return true;
  return false;
}

Datum unseen(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  const Oid relid = PG_GETARG_OID(0);
  if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
    throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                    "unit_tests._snapshot_unseen: permission denied for the table");
  const bool filtered = !PG_ARGISNULL(1);
  Datum* relids = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  AttrNumber relid_column = InvalidAttrNumber;
  if (filtered) {
    deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &relids,
                      &nulls, &n);
    relid_column = get_attnum(relid, "relid");
    if (relid_column == InvalidAttrNumber || get_atttype(relid, relid_column) != OIDOID)
      throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                      "unit_tests._snapshot_unseen: the table has no column relid of type oid");
  }

  // Only an ordinary table (what restore() and snapshot() pass): a view, a partitioned or a foreign
  // table has no table access method to scan with, and scanning one would crash the backend.
  if (get_rel_relkind(relid) != RELKIND_RELATION)
    throw pg::Error(ERRCODE_WRONG_OBJECT_TYPE,
                    "unit_tests._snapshot_unseen: the relation is not an ordinary table");
  Relation rel = table_open(relid, AccessShareLock);
  if (rel->rd_rel->relkind != RELKIND_RELATION) {  // replaced while we waited for the lock
    table_close(rel, AccessShareLock);
    throw pg::Error(ERRCODE_WRONG_OBJECT_TYPE,
                    "unit_tests._snapshot_unseen: the relation is not an ordinary table");
  }
  // Both registered, as the visibility checks require (in READ COMMITTED the transaction snapshot
  // is a fresh one that nothing registered).
  Snapshot then = RegisterSnapshot(GetTransactionSnapshot());
  Snapshot now = RegisterSnapshot(GetLatestSnapshot());
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  TableScanDesc scan = table_beginscan(rel, SnapshotAny, 0, nullptr);
  Oid found = InvalidOid;
  while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
    Oid row_relid = relid;
    if (filtered) {
      bool isnull = false;
      Datum value = slot_getattr(slot, relid_column, &isnull);
      if (isnull || !among(relids, nulls, n, DatumGetObjectId(value))) continue;
      row_relid = DatumGetObjectId(value);
    }
    if (table_tuple_satisfies_snapshot(rel, slot, then) !=
        table_tuple_satisfies_snapshot(rel, slot, now)) {
      found = row_relid;
      break;
    }
  }
  table_endscan(scan);
  ExecDropSingleTupleTableSlot(slot);
  UnregisterSnapshot(now);
  UnregisterSnapshot(then);
  table_close(rel, AccessShareLock);
  if (!OidIsValid(found)) PG_RETURN_NULL();
  PG_RETURN_OID(found);
}

}  // namespace
}  // namespace pgut::snapshot

PGUT_SQL_FUNCTION(pgut_snapshot_unseen, pgut::snapshot::unseen)
