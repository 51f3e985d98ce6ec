// Remembers, per backend, which snapshots passed restore()'s drift check, and forgets it as soon as
// the catalog may have changed.
//
// The drift check (unit_tests._snapshot_drift) compares the text of every column, constraint,
// partition bound and trigger of the snapshot's tables with what was recorded: a few milliseconds
// for 20 tables, the largest fixed cost of a restore. Its answer can only change when the catalog
// does, and every catalog change reaches every backend as an invalidation message. So the check is
// skipped when this backend made it for the snapshot and has processed no invalidation since:
// relcache invalidations (every change to a pg_class or pg_attribute row sends one for its table,
// and so do changes to its triggers, constraints, partitions and inheritance) and catcache
// invalidations of the other catalogs whose names end up in the compared text (types, functions,
// operators, collations, schemas, constraints). Conservative by design: any invalidation, for any
// object, starts over, with one exception: the write log's own (restore() truncates it when it has
// grown large), which the check does not read. A reset of the invalidation queue calls every
// callback with "everything", so nothing is missed there either.
//
// unit_tests._snapshot_catalog_epoch() → bigint: processes pending invalidations and returns the
// count of them (the epoch). unit_tests._snapshot_verified(snap, epoch) records that the check of
// snap passed, made after reading epoch. unit_tests._snapshot_unchanged(snap) → boolean: whether
// the check of snap passed at the current epoch. No C++ object is alive here: every call may
// ereport.
#include "pg/boundary.hpp"

namespace pgut::snapshot {
namespace {

constexpr int kRemembered = 16;

struct Verified {
  int32 snapshot;
  uint64 epoch;
};

struct State {
  uint64 epoch = 1;  // 0 never matches
  bool registered = false;
  Oid log = InvalidOid;  // unit_tests._snapshot_changes, looked up outside the callbacks
  Verified verified[kRemembered] = {};
  int next = 0;
};
State state;

void on_relcache(Datum, Oid relid) {
  if (relid != state.log || relid == InvalidOid) ++state.epoch;
}

void on_syscache(Datum, int, uint32) {
  ++state.epoch;
}

void ensure_registered() {
  if (state.registered) return;
  CacheRegisterRelcacheCallback(on_relcache, Datum(0));
  for (int cache : {TYPEOID, PROCOID, NAMESPACEOID, CONSTROID, OPEROID, COLLOID})
    CacheRegisterSyscacheCallback(cache, on_syscache, Datum(0));
  state.registered = true;
  ++state.epoch;  // whatever was checked before the callbacks existed is not trusted
}

uint64 current_epoch() {
  ensure_registered();
  AcceptInvalidationMessages();
  // (Looked up each time: a callback may not read the catalog, and the extension may have been
  // created again since.)
  Oid schema = get_namespace_oid("unit_tests", true);
  state.log = OidIsValid(schema) ? get_relname_relid("_snapshot_changes", schema) : InvalidOid;
  return state.epoch;
}

Datum catalog_epoch(FunctionCallInfo) {
  return Int64GetDatum(static_cast<int64>(current_epoch()));
}

Datum verified(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_VOID();
  int32 snapshot = PG_GETARG_INT32(0);
  uint64 epoch = static_cast<uint64>(PG_GETARG_INT64(1));
  for (Verified& v : state.verified) {
    if (v.snapshot == snapshot && v.epoch != 0) {
      v.epoch = epoch;
      PG_RETURN_VOID();
    }
  }
  state.verified[state.next] = Verified{snapshot, epoch};
  state.next = (state.next + 1) % kRemembered;
  PG_RETURN_VOID();
}

Datum unchanged(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) PG_RETURN_BOOL(false);
  int32 snapshot = PG_GETARG_INT32(0);
  uint64 epoch = current_epoch();
  for (const Verified& v : state.verified) {
    if (v.snapshot == snapshot && v.epoch != 0) PG_RETURN_BOOL(v.epoch == epoch);
  }
  PG_RETURN_BOOL(false);
}

}  // namespace
}  // namespace pgut::snapshot

PGUT_SQL_FUNCTION(pgut_snapshot_catalog_epoch, pgut::snapshot::catalog_epoch)
PGUT_SQL_FUNCTION(pgut_snapshot_verified, pgut::snapshot::verified)
PGUT_SQL_FUNCTION(pgut_snapshot_unchanged, pgut::snapshot::unchanged)
