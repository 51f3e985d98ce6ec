// See shared.hpp.
#include "clock/shared.hpp"

#include "pg/versions.hpp"
#include "pg/boundary.hpp"

#include <cstring>

namespace pgut::clock::shared {
namespace {

constexpr int kHistory = 8;         // versions kept per clock
constexpr int kMaxDatabases = 128;  // database clocks set at the same time
constexpr const char* kTranche = "pg_unit_tests";

struct Version {
  TimestampTz changed_at;
  uint64 generation;  // the global generation this change made: unique: what change() compares
  bool set;           // false: released
  Clock clock;
  Oid changed_by;
};

// Newest first. With `dropped`, older versions were forgotten.
struct History {
  int count;
  bool dropped;
  Version versions[kHistory];
};

struct DatabaseClock {
  Oid database;  // InvalidOid: free
  History history;
};

// A client backend's settings, written only by that backend: `changes` is odd while it writes
// (readers retry), as PostgreSQL does for pg_stat_activity.
struct Slot {
  pg_atomic_uint32 changes;
  int32 pid;
  Settings settings;
};

struct Memory {
  detail::UsedFlags used;
  pg_atomic_uint64 generation;
  LWLock* lock;
  History server;
  DatabaseClock databases[kMaxDatabases];
  Slot slots[FLEXIBLE_ARRAY_MEMBER];
};

Memory* memory = nullptr;
shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;
object_access_hook_type prev_object_access = nullptr;

// The database this backend's transaction drops (DROP DATABASE runs in a transaction of its own):
// its clock is forgotten when that transaction commits.
Oid dropping = InvalidOid;
bool xact_callback_registered = false;

// This backend's copies of its database's and the server's histories, as of `generation`.
struct LocalCopy {
  bool valid = false;
  uint64 generation = 0;
  Oid database = InvalidOid;
  bool has_database = false;
  History database_history;
  History server_history;
};
LocalCopy local;

int my_slot = -1;

Size memory_size() {
  return add_size(offsetof(Memory, slots), mul_size(sizeof(Slot), MaxBackends));
}

const Version* version_at(const History& h, TimestampTz as_of) {
  for (int i = 0; i < h.count; i++)
    if (h.versions[i].changed_at <= as_of) return &h.versions[i];
  // Every version kept is newer: the one before them was "not set", unless it was forgotten
  // (more than kHistory changes during one statement); then the oldest kept is the best guess.
  return h.dropped && h.count > 0 ? &h.versions[h.count - 1] : nullptr;
}

bool clock_at(const History& h, TimestampTz as_of, Clock* out) {
  const Version* v = version_at(h, as_of);
  if (v == nullptr || !v->set) return false;
  *out = v->clock;
  return true;
}

void push(History* h, const Version& v) {
  if (h->count == kHistory) h->dropped = true;
  int keep = h->count < kHistory ? h->count : kHistory - 1;
  std::memmove(&h->versions[1], &h->versions[0], sizeof(Version) * keep);
  h->versions[0] = v;
  h->count = keep + 1;
}

// Callers hold the lock.
DatabaseClock* find(Oid database) {
  for (DatabaseClock& d : memory->databases)
    if (d.database == database) return &d;
  return nullptr;
}

// A free entry, or one whose clock was released (its history only matters to statements that
// started before the release, in a database that may since be gone).
DatabaseClock* free_entry() {
  DatabaseClock* released = nullptr;
  for (DatabaseClock& d : memory->databases) {
    if (d.database == InvalidOid) return &d;
    if (released == nullptr && (d.history.count == 0 || !d.history.versions[0].set)) released = &d;
  }
  return released;
}

// Frees the entries of databases that were dropped; false if there were none.
bool forget_dropped_databases() {
  Oid held[kMaxDatabases];
  LWLockAcquire(memory->lock, LW_SHARED);
  for (int i = 0; i < kMaxDatabases; i++) held[i] = memory->databases[i].database;
  LWLockRelease(memory->lock);
  bool freed = false;
  for (int i = 0; i < kMaxDatabases; i++) {
    if (held[i] == InvalidOid || SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(held[i])))
      continue;
    LWLockAcquire(memory->lock, LW_EXCLUSIVE);
    if (memory->databases[i].database == held[i]) {
      memory->databases[i].database = InvalidOid;
      freed = true;
    }
    LWLockRelease(memory->lock);
  }
  return freed;
}

// Forgets the clock of a database that no longer exists. Only ever called for a dropped one, so no
// session of it remains to read the entry.
void forget(Oid database) {
  LWLockAcquire(memory->lock, LW_EXCLUSIVE);
  DatabaseClock* d = find(database);
  if (d != nullptr) {
    d->database = InvalidOid;
    d->history = History{};
    pg_atomic_fetch_add_u64(&memory->generation, 1);
  }
  LWLockRelease(memory->lock);
}

// A dropped database's clock must not outlive it: it would be listed for a database that is gone,
// take one of the kMaxDatabases entries, and apply to a later database given the same OID. The
// drop hook runs while DROP DATABASE may still fail (a template database, other sessions
// connected), so the clock is forgotten at the commit.
void on_xact(XactEvent event, void*) {
  if (dropping == InvalidOid) return;
  if (event == XACT_EVENT_COMMIT && memory != nullptr) forget(dropping);
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
    dropping = InvalidOid;
}

void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void* arg) {
  if (prev_object_access) prev_object_access(access, class_id, object_id, sub_id, arg);
  if (access != OAT_DROP || class_id != DatabaseRelationId) return;
  if (!xact_callback_registered) {
    RegisterXactCallback(on_xact, nullptr);
    xact_callback_registered = true;
  }
  dropping = object_id;
}

void request() {
  if (prev_request) prev_request();
  RequestAddinShmemSpace(memory_size());
  RequestNamedLWLockTranche(kTranche, 1);
}

void startup() {
  if (prev_startup) prev_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  memory = static_cast<Memory*>(ShmemInitStruct("pg_unit_tests clocks", memory_size(), &found));
  if (!found) {
    std::memset(static_cast<void*>(memory), 0, memory_size());
    pg_atomic_init_u32(&memory->used.server, 0);
    for (pg_atomic_uint32& flag : memory->used.database) pg_atomic_init_u32(&flag, 0);
    pg_atomic_init_u64(&memory->generation, 1);
    memory->lock = &(GetNamedLWLockTranche(kTranche))->lock;
    for (int i = 0; i < MaxBackends; i++) pg_atomic_init_u32(&memory->slots[i].changes, 0);
  }
  LWLockRelease(AddinShmemInitLock);
  detail::used = &memory->used;
  local = LocalCopy{};
}

void release_slot(int, Datum) {
  if (my_slot < 0 || memory == nullptr) return;
  Slot& slot = memory->slots[my_slot];
  pg_atomic_fetch_add_u32(&slot.changes, 1);
  slot.pid = 0;
  pg_write_barrier();
  pg_atomic_fetch_add_u32(&slot.changes, 1);
  my_slot = -1;
}

bool read_slot(Slot& slot, int32* pid, Settings* settings) {
  for (int attempt = 0; attempt < 1000; attempt++) {
    uint32 before = pg_atomic_read_u32(&slot.changes);
    pg_read_barrier();
    *pid = slot.pid;
    *settings = slot.settings;
    pg_read_barrier();
    if (before % 2 == 0 && before == pg_atomic_read_u32(&slot.changes)) return true;
  }
  return false;  // a writer that never finishes: skip the slot rather than spin
}

}  // namespace

void request_memory() {
  prev_request = shmem_request_hook;
  shmem_request_hook = request;
  prev_startup = shmem_startup_hook;
  shmem_startup_hook = startup;
  prev_object_access = object_access_hook;
  object_access_hook = on_object_access;
}

void view(Oid database, TimestampTz as_of, View* out) {
  *out = View{};
  if (memory == nullptr) return;
  uint64 generation = pg_atomic_read_u64(&memory->generation);
  if (!local.valid || local.generation != generation || local.database != database) {
    LWLockAcquire(memory->lock, LW_SHARED);
    local.generation = pg_atomic_read_u64(&memory->generation);
    local.server_history = memory->server;
    const DatabaseClock* d = database != InvalidOid ? find(database) : nullptr;
    local.has_database = d != nullptr;
    if (d != nullptr) local.database_history = d->history;
    LWLockRelease(memory->lock);
    local.database = database;
    local.valid = true;
  }
  out->has_server = clock_at(local.server_history, as_of, &out->server);
  out->has_database = local.has_database && clock_at(local.database_history, as_of, &out->database);
}

bool latest(Oid database, Clock* out, uint64* generation) {
  if (memory == nullptr) return false;
  bool found = false;
  LWLockAcquire(memory->lock, LW_SHARED);
  const History* h = &memory->server;
  if (database != InvalidOid) {
    const DatabaseClock* d = find(database);
    h = d != nullptr ? &d->history : nullptr;
  }
  if (h != nullptr && h->count > 0 && h->versions[0].set) {
    *out = h->versions[0].clock;
    *generation = h->versions[0].generation;
    found = true;
  }
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): find() tests an address inside *memory
  LWLockRelease(memory->lock);
  return found;
}

bool change(Oid database, const Clock* clock, const uint64* expected, TimestampTz* when) {
  if (memory == nullptr)
    throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "the database and server clocks need the extension preloaded");
  // A local copy: the analyzer takes the global as changeable by every call in the loop.
  Memory* const m = memory;
  for (int attempt = 0;; attempt++) {
    LWLockAcquire(m->lock, LW_EXCLUSIVE);
    History* h = &m->server;
    if (database != InvalidOid) {
      DatabaseClock* d = find(database);
      if (d == nullptr && clock != nullptr && expected == nullptr) {
        d = free_entry();
        if (d != nullptr) {
          d->database = database;
          d->history = History{};
        }
      }
      h = d != nullptr ? &d->history : nullptr;
    }
    // Compare and set: the clock is still the version the caller read (no change since).
    if (expected != nullptr && (h == nullptr || h->count == 0 || !h->versions[0].set ||
                                h->versions[0].generation != *expected)) {
      LWLockRelease(m->lock);
      return false;
    }
    if (h == nullptr && clock != nullptr) {
      LWLockRelease(m->lock);
      if (attempt == 0 && forget_dropped_databases()) continue;
      throw pg::Error(
          ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
          "too many database clocks: " + std::to_string(kMaxDatabases) + " databases have one",
          "Release the clocks of databases that no longer need them: "
          "SELECT * FROM unit_tests.clocks lists them.");
    }
    TimestampTz now = GetCurrentTimestamp();
    if (h != nullptr) {
      Version v{};
      v.changed_at = now;
      v.generation = pg_atomic_add_fetch_u64(&m->generation, 1);
      v.set = clock != nullptr;
      if (clock != nullptr) v.clock = *clock;
      v.changed_by = GetUserId();
      push(h, v);
      if (database == InvalidOid)
        pg_atomic_write_u32(&m->used.server, 1);
      else
        pg_atomic_write_u32(&m->used.database[database % detail::kDatabaseBuckets], 1);
    }
    LWLockRelease(m->lock);
    *when = now;
    return true;
  }
}

void claim_slot() {
  if (memory == nullptr || MyBackendType != B_BACKEND) return;
  int index = pg::proc_number();
  if (index < 0 || index >= MaxBackends) return;
  my_slot = index;
  before_shmem_exit(release_slot, 0);
  publish(settings());
}

void publish(const Settings& settings) {
  if (my_slot < 0 || memory == nullptr) return;
  Slot& slot = memory->slots[my_slot];
  pg_atomic_fetch_add_u32(&slot.changes, 1);
  slot.pid = MyProcPid;
  slot.settings = settings;
  pg_write_barrier();
  pg_atomic_fetch_add_u32(&slot.changes, 1);
}

void list(void (*fn)(const ClockRow& row, void* arg), void* arg) {
  if (memory == nullptr) return;
  // Copies first: fn() runs PostgreSQL code that must not run under our lock.
  History server;
  DatabaseClock* databases = static_cast<DatabaseClock*>(palloc(sizeof memory->databases));
  LWLockAcquire(memory->lock, LW_SHARED);
  server = memory->server;
  std::memcpy(databases, memory->databases, sizeof memory->databases);
  LWLockRelease(memory->lock);

  const TimestampTz forever = DT_NOEND;
  Clock server_clock;
  const bool has_server = clock_at(server, forever, &server_clock);
  if (has_server) {
    ClockRow row{false,
                 InvalidOid,
                 0,
                 server_clock,
                 Source::server_clock,
                 server.versions[0].changed_at,
                 server.versions[0].changed_by};
    fn(row, arg);
  }
  for (int i = 0; i < kMaxDatabases; i++) {
    const DatabaseClock& d = databases[i];
    Clock c;
    if (d.database == InvalidOid || !clock_at(d.history, forever, &c)) continue;
    ClockRow row{false,
                 d.database,
                 0,
                 c,
                 Source::database_clock,
                 d.history.versions[0].changed_at,
                 d.history.versions[0].changed_by};
    fn(row, arg);
  }
  for (int i = 0; i < MaxBackends; i++) {
    int32 pid = 0;
    Settings s;
    if (!read_slot(memory->slots[i], &pid, &s) || pid == 0) continue;
    const Oid database = ProcGlobal->allProcs[i].databaseId;
    const Clock* database_clock = nullptr;
    Clock c;
    for (int j = 0; j < kMaxDatabases && database != InvalidOid; j++)
      if (databases[j].database == database && clock_at(databases[j].history, forever, &c))
        database_clock = &c;
    Effective e = resolve(s, database_clock, has_server ? &server_clock : nullptr);
    if (e.clock.mode == Mode::real) continue;
    ClockRow row{true, database, pid, e.clock, e.source, 0, InvalidOid};
    fn(row, arg);
  }
  pfree(databases);
}

}  // namespace pgut::clock::shared
