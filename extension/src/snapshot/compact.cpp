// unit_tests._snapshot_compact_at_commit(): empties the file of the write log
// (unit_tests._snapshot_changes) when the calling transaction commits, if the log holds no entry
// then.
//
// The log has no index and every restore reads it whole; the entries _snapshot_prune deletes stay
// in its file until a VACUUM, and the harness's servers run without autovacuum. So once a large
// log holds nothing any snapshot needs, its file starts over empty. That takes an ACCESS EXCLUSIVE
// lock on the log, which every tracked write of the database waits for; taken by the statement
// that prunes, it would be held until the caller's transaction ends, however long the caller
// makes it (any role may call restore() inside an open transaction, or in a statement that then
// waits). So it is taken when that transaction commits, after its last statement, deferred
// trigger and cursor (XACT_EVENT_PRE_COMMIT: no user code runs after it), only if nobody else
// holds the log (a writer's entries are uncommitted until it ends) and never in a PREPARE: it is
// held for the commit itself. The file is replaced as TRUNCATE replaces it (a new relfilenode, the
// old file deleted at commit, everything undone if the commit fails). Not in a serializable
// transaction (TRUNCATE would have to report a read/write conflict to the other serializable
// transactions that read the log): the next prune tries again.
//
// Called by _snapshot_prune (SECURITY DEFINER) only: it removes nothing but dead entries, and only
// from a log nobody else holds.
#include "pg/boundary.hpp"
#include "pg/versions.hpp"

namespace pgut::snapshot {
namespace {

struct Request {
  bool pending = false;
  bool registered = false;
};
Request request;

void compact() {
  Oid schema = get_namespace_oid("unit_tests", true);
  Oid log_oid = OidIsValid(schema) ? get_relname_relid("_snapshot_changes", schema) : InvalidOid;
  if (!OidIsValid(log_oid) || IsolationIsSerializable()) return;
  if (!ConditionalLockRelationOid(log_oid, AccessExclusiveLock)) return;
  Relation log = table_open(log_oid, NoLock);
  // What TRUNCATE would otherwise rebuild or refuse (an index, a TOAST table, a relation still in
  // use in this backend), and another access method than the heap the scan below reads.
  bool simple = log->rd_rel->relam == HEAP_TABLE_AM_OID && !log->rd_rel->relhasindex &&
                !OidIsValid(log->rd_rel->reltoastrelid) && log->rd_refcnt == 1 &&
                RelationGetNumberOfBlocks(log) > 0;
  bool empty = false;
  if (simple) {
    // Under the lock no other transaction has entries in progress: every entry is committed or
    // this transaction's own, which SnapshotSelf sees as they are now.
    TableScanDesc scan = table_beginscan(log, SnapshotSelf, 0, nullptr);
    empty = heap_getnext(scan, ForwardScanDirection) == nullptr;
    table_endscan(scan);
  }
  if (simple && empty) {
    pg::set_new_relation_file(log);
    pgstat_count_truncate(log);
  }
  table_close(log, NoLock);  // the lock is kept until the end of the commit
}

void on_xact(XactEvent event, void*) {
  if (!request.pending) return;
  switch (event) {
    case XACT_EVENT_PRE_COMMIT:
      request.pending = false;
      compact();
      break;
    case XACT_EVENT_PARALLEL_PRE_COMMIT:
      break;
    default:  // commit, abort, prepare: the request ends with the transaction
      request.pending = false;
      break;
  }
}

Datum compact_at_commit(FunctionCallInfo) {
  if (!request.registered) {
    RegisterXactCallback(on_xact, nullptr);
    request.registered = true;
  }
  request.pending = true;
  return PointerGetDatum(nullptr);
}

}  // namespace
}  // namespace pgut::snapshot

PGUT_SQL_FUNCTION(pgut_snapshot_compact_at_commit, pgut::snapshot::compact_at_commit)
