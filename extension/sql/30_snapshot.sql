-- pg_unit_tests install script, part 30: data snapshots inside a database.
--
-- unit_tests.snapshot(name, schemas) records the rows of every table of the schemas (ordinary,
-- partitioned, inheritance children) and the state of every sequence; unit_tests.restore(name)
-- puts them back in one transaction, touching only tables written since.
--
-- How it works (the reasons are in extension/README.md, "Snapshots"):
-- * Rows are stored as the text of the whole row (record_out), next to the row version's identity
--   (ctid, xmin). record_in reads the text back exactly; the functions pin the settings that
--   change a type's text (DateStyle, IntervalStyle, extra_float_digits, bytea_output,
--   lc_monetary). Storage is three tables of this schema: DROP EXTENSION drops them.
-- * Change detection: snapshot() installs two triggers per table (ENABLE ALWAYS, so they fire
--   under session_replication_role = replica too), both on the C function _snapshot_track():
--   pg_unit_tests_snapshot, AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, which logs the ctid of
--   the row version replaced or deleted and of the one written; pg_unit_tests_snapshot_truncate,
--   AFTER TRUNCATE FOR EACH STATEMENT, which logs "every row". The log (_snapshot_changes) is
--   numbered by a sequence and transactional: writes rolled back are forgotten with their rows. A
--   table is clean for a snapshot when nothing was logged after the snapshot (or its last restore)
--   synced it: restore() does not touch it.
-- * A dirty table is restored at the logged ctids only: a row version there whose (ctid, xmin) is
--   recorded is unchanged (an UPDATE always makes a new version, with a new ctid and the writer's
--   xmin; a ctid reused by a later insert has a later xmin), every other one is deleted, and the
--   recorded rows at those ctids no longer present are inserted again. Rows at ctids not logged
--   were not written. The snapshot then records the new identities (ctid, xmin) of the rows it put
--   back, so the next restore is as cheap. A table rewritten since (TRUNCATE, VACUUM FULL, CLUSTER:
--   another file node) is replaced whole.
-- * restore() writes with session_replication_role = replica: no user trigger, no foreign-key
--   check or cascade fires, no lock beyond the rows and an EXCLUSIVE lock on each table (readers
--   go on). Foreign keys hold afterwards because the snapshot is one consistent state of them all.
-- * Safety: every function here pins search_path (or has a body bound when the extension was
--   created); generated statements name tables by regclass and quote every column, qualify every
--   column reference with an alias of their own, and never use a bare alias as a whole-row value
--   (a user column of that name would be taken instead): the whole row is (alias.*)::text.
-- * Isolation: restore() and snapshot() see every write committed before they took their locks in
--   READ COMMITTED; in REPEATABLE READ and SERIALIZABLE the transaction's snapshot may be older
--   than the locks, so they check that nothing they depend on was committed in between and fail
--   with a serialization failure (nothing changed) when it was.
-- * Snapshots are private: names are per role, and every function works on the caller's own.

CREATE SEQUENCE unit_tests._snapshot_write_seq;

-- This installation's identity, random. The change-tracking triggers carry it as their argument
-- and log only while it matches: pg_dump carries the triggers (they are the tables' own objects)
-- but not the snapshots (the extension's tables, like this one), so in a database restored from a
-- dump the triggers that came along log nothing, and snapshot() replaces them. A copy of the files
-- (CREATE DATABASE ... TEMPLATE, pg_upgrade) keeps the identity with the snapshots: they go on.
CREATE TABLE unit_tests._snapshot_installation (token text NOT NULL) USING heap;  -- (read by C)
INSERT INTO unit_tests._snapshot_installation VALUES (gen_random_uuid()::text);
GRANT SELECT ON unit_tests._snapshot_installation TO PUBLIC;

-- The caller's role, the owner of its snapshots. regrole reads an identifier: the bare name of role
-- "Alice" would be read as alice (another role, whose snapshots it got), so the name is quoted. The
-- SQL-standard body is bound when it is created (no search_path is consulted at the call), and the
-- planner inlines it into the policies and queries that use it.
CREATE FUNCTION unit_tests._snapshot_caller() RETURNS oid
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole::pg_catalog.oid;

CREATE TABLE unit_tests._snapshots (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  owner oid NOT NULL DEFAULT (unit_tests._snapshot_caller()),
  taken_at timestamptz NOT NULL,
  schemas text[] NOT NULL,
  rows bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  CONSTRAINT _snapshots_name_per_owner UNIQUE (owner, name)  -- each role has its own names
);

-- One row per table and sequence of a snapshot.
CREATE TABLE unit_tests._snapshot_relations (
  snapshot integer NOT NULL REFERENCES unit_tests._snapshots ON DELETE CASCADE,
  relid oid NOT NULL,
  kind "char" NOT NULL,          -- r table, p partitioned table, S sequence
  relname text NOT NULL,         -- schema-qualified, quoted, as when taken (for messages)
  columns text,                  -- signatures for drift detection
  constraints text,
  synced bigint,                 -- write-log position up to which the table equals the snapshot
  filenode oid,                  -- the table's file when synced: another one means it was rewritten
  rows bigint,
  last_value bigint,             -- sequences
  is_called boolean,
  PRIMARY KEY (snapshot, relid)
);
CREATE INDEX ON unit_tests._snapshot_relations (relid);

CREATE TABLE unit_tests._snapshot_rows (
  snapshot integer NOT NULL REFERENCES unit_tests._snapshots ON DELETE CASCADE,
  relid oid NOT NULL,
  row_ctid tid NOT NULL,
  row_xmin xid NOT NULL,
  data text NOT NULL
);
CREATE INDEX ON unit_tests._snapshot_rows (snapshot, relid, row_ctid);

-- The write log: "at position seq, the row version at old_ctid of table relid was replaced or
-- deleted, and one was written at new_ctid" (both NULL: every row, TRUNCATE). Appended by the C
-- trigger with heap_insert, which is why it is a heap table (whatever default_table_access_method
-- says) with no index, constraint or default (the trigger checks that it has none); pruned by
-- restore() and drop_snapshot() down to the oldest sync point.
CREATE TABLE unit_tests._snapshot_changes (
  relid oid,
  seq bigint,
  old_ctid tid,
  new_ctid tid
) USING heap;

-- Row security: each role sees and changes its own snapshots only. A table's owner also sees
-- which snapshots (of any role) track that table, but not their names: restore() needs to know
-- whether another snapshot depends on the log entries of a table before it silences it. The log
-- shows the entries of the tables those visible rows name. (Superusers bypass row security, as for
-- any table; the functions still work on the caller's own snapshots only.)
ALTER TABLE unit_tests._snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE unit_tests._snapshot_relations ENABLE ROW LEVEL SECURITY;
ALTER TABLE unit_tests._snapshot_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE unit_tests._snapshot_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON unit_tests._snapshots
  USING (owner = unit_tests._snapshot_caller()) WITH CHECK (owner = unit_tests._snapshot_caller());
CREATE POLICY own ON unit_tests._snapshot_relations
  USING (snapshot IN (SELECT id FROM unit_tests._snapshots))
  -- (and only for tables one owns, as snapshot() requires: nobody can make a table look tracked;
  -- snapshot() records sequences it does not own, so a row of kind 'S' must name a sequence)
  WITH CHECK (snapshot IN (SELECT id FROM unit_tests._snapshots)
              AND CASE WHEN kind = 'S'
                       THEN EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relid AND c.relkind = 'S')
                       ELSE pg_has_role((SELECT c.relowner FROM pg_class AS c WHERE c.oid = relid), 'USAGE') END);
CREATE POLICY table_owner ON unit_tests._snapshot_relations FOR SELECT
  USING (pg_has_role((SELECT c.relowner FROM pg_class AS c WHERE c.oid = relid), 'USAGE'));
CREATE POLICY own ON unit_tests._snapshot_rows
  USING (snapshot IN (SELECT id FROM unit_tests._snapshots))
  WITH CHECK (snapshot IN (SELECT id FROM unit_tests._snapshots));
CREATE POLICY tracked ON unit_tests._snapshot_changes FOR SELECT
  USING (relid IN (SELECT r.relid FROM unit_tests._snapshot_relations AS r WHERE r.kind <> 'S'));
GRANT SELECT, INSERT, UPDATE, DELETE ON unit_tests._snapshots, unit_tests._snapshot_relations,
  unit_tests._snapshot_rows TO PUBLIC;
GRANT SELECT ON unit_tests._snapshot_changes TO PUBLIC;
GRANT USAGE ON SEQUENCE unit_tests._snapshot_write_seq TO PUBLIC;

-- The tracking trigger (extension/src/snapshot/track.cpp). It needs no privilege on the log: the C
-- code opens it directly.
CREATE FUNCTION unit_tests._snapshot_track() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'pgut_snapshot_track';
-- (EXECUTE stays granted to PUBLIC: CREATE TRIGGER needs it, and a trigger function cannot be
-- called outside a trigger.)

-- restore()'s switch for its own writes (track.cpp): the trigger does not log writes of this
-- backend to these tables (those the caller owns) until it is called again (NULL: none) or the
-- (sub)transaction ends.
CREATE FUNCTION unit_tests._snapshot_quiet(relids oid[]) RETURNS integer
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_snapshot_quiet';

-- The first of relids (NULL: none) with a row in table rel (column relid) that this transaction's
-- snapshot and a snapshot taken now see differently; with relids NULL, whether any row of rel
-- differs (rel itself, or NULL). Used in REPEATABLE READ and SERIALIZABLE only, where the
-- transaction's snapshot may predate the locks (extension/src/snapshot/isolation.cpp). Needs
-- SELECT on rel.
CREATE FUNCTION unit_tests._snapshot_unseen(rel regclass, relids oid[] DEFAULT NULL) RETURNS oid
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_snapshot_unseen';

-- Empties the log's file when this transaction commits, if the log is empty and unused then
-- (extension/src/snapshot/compact.cpp).
CREATE FUNCTION unit_tests._snapshot_compact_at_commit() RETURNS void
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_snapshot_compact_at_commit';
REVOKE ALL ON FUNCTION unit_tests._snapshot_compact_at_commit() FROM PUBLIC;

-- Forgets the logged changes no snapshot needs any more. SECURITY DEFINER: it must see every
-- role's snapshots. It returns nothing, so it tells its caller nothing about them, and it deletes
-- only entries that no snapshot can need (at or below every sync point of the table, or of a
-- table no snapshot tracks), whoever calls it.
CREATE FUNCTION unit_tests._snapshot_prune(relids oid[]) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  WITH p AS MATERIALIZED (
    SELECT t.rel, min(r.synced) AS low
      FROM unnest(relids) AS t(rel) LEFT JOIN unit_tests._snapshot_relations AS r ON r.relid = t.rel
     GROUP BY t.rel)
  DELETE FROM unit_tests._snapshot_changes AS c
   USING p
   WHERE c.relid = p.rel AND (p.low IS NULL OR c.seq <= p.low);
  -- The log has no index and is read whole by every restore; the entries deleted above stay in
  -- its file until a VACUUM, and the harness's servers run without autovacuum. So a log grown
  -- large (a test that loaded many rows) starts over empty once nothing in it is needed: when the
  -- caller's transaction commits, for the commit only (a lock on the log, held here until the
  -- caller's transaction ends, would stop every tracked write for as long as the caller likes).
  IF pg_relation_size('unit_tests._snapshot_changes') > 1048576
     AND NOT EXISTS (SELECT 1 FROM unit_tests._snapshot_changes) THEN
    PERFORM unit_tests._snapshot_compact_at_commit();
  END IF;
END
$$;

-- The tables of one of the caller's snapshots that no other snapshot tracks: restore() need not
-- log its own writes to them. (Row security shows a table's owner every snapshot of the table, and
-- _snapshot_quiet silences only tables the caller owns.)
CREATE FUNCTION unit_tests._snapshot_private(snap integer) RETURNS oid[]
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
RETURN (SELECT array_agg(r.relid) FROM unit_tests._snapshot_relations AS r
         WHERE r.snapshot = snap AND r.kind = 'r'
           AND NOT EXISTS (SELECT 1 FROM unit_tests._snapshot_relations AS o
                            WHERE o.relid = r.relid AND o.snapshot <> snap));

-- The id of the caller's snapshot called name; an error when there is none.
CREATE FUNCTION unit_tests._snapshot_find(caller text, name text) RETURNS integer
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  snap integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION '%: the snapshot name must not be NULL', caller
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT s.id INTO snap FROM unit_tests._snapshots AS s
   WHERE s.owner = unit_tests._snapshot_caller() AND s.name = _snapshot_find.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: snapshot "%" does not exist', caller, name
      USING ERRCODE = 'undefined_object',
            HINT = 'SELECT * FROM unit_tests.snapshots() lists your snapshots (each role has its own).';
  END IF;
  RETURN snap;
END
$$;

-- The error for a name the caller has taken already.
CREATE FUNCTION unit_tests._snapshot_check_new_name(name text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF name IS NULL OR name = '' THEN
    RAISE EXCEPTION 'unit_tests.snapshot: the name must not be NULL or empty'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM unit_tests._snapshots AS s
              WHERE s.owner = unit_tests._snapshot_caller() AND s.name = _snapshot_check_new_name.name) THEN
    PERFORM unit_tests._snapshot_duplicate(name);
  END IF;
END
$$;

CREATE FUNCTION unit_tests._snapshot_duplicate(name text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'unit_tests.snapshot: snapshot "%" already exists', name
    USING ERRCODE = 'duplicate_object',
          HINT = format('Choose another name, or drop it first: SELECT unit_tests.drop_snapshot(%L).', name);
END
$$;

-- snapshot(), restore() and drop_snapshot() write: in a read-only transaction (or on a standby)
-- they say so before anything else.
CREATE FUNCTION unit_tests._snapshot_check_writable(caller text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF current_setting('transaction_read_only') = 'on' THEN
    RAISE EXCEPTION '%: cannot run in a read-only transaction', caller
      USING ERRCODE = 'read_only_sql_transaction',
            HINT = CASE WHEN pg_is_in_recovery()
                        THEN 'This server is a standby: snapshots are taken and restored on the primary.'
                        ELSE 'Snapshots write to your tables and to the schema unit_tests: call it in a read-write transaction (BEGIN READ WRITE).' END;
  END IF;
END
$$;

-- How long snapshot(), restore() and drop_snapshot() wait for their table locks: the lock_timeout
-- argument when given, else the session's lock_timeout when it is set, else 10 seconds. Never
-- forever: a session idle in a transaction that holds a lock would otherwise hang the caller.
-- (No SET clause for lock_timeout: it reads the caller's.)
CREATE FUNCTION unit_tests._snapshot_lock_wait(caller text, lock_timeout interval) RETURNS interval
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF lock_timeout IS NOT NULL THEN
    IF lock_timeout <= interval '0' THEN
      RAISE EXCEPTION '%: lock_timeout must be positive, not %', caller, lock_timeout
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Pass how long to wait for the table locks, for example lock_timeout => ''1 min'', or NULL for the default.';
    END IF;
    RETURN lock_timeout;
  ELSIF current_setting('lock_timeout') <> '0' THEN
    RETURN current_setting('lock_timeout')::interval;
  END IF;
  RETURN interval '10 s';
END
$$;

-- The lock modes that conflict with lock_mode, as pg_locks names them.
CREATE FUNCTION unit_tests._lock_conflicts(lock_mode text) RETURNS text[]
  LANGUAGE sql IMMUTABLE
RETURN CASE lock_mode
  WHEN 'SHARE ROW EXCLUSIVE' THEN ARRAY['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock',
                                        'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock']
  WHEN 'EXCLUSIVE' THEN ARRAY['RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock',
                              'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock']
  WHEN 'ACCESS EXCLUSIVE' THEN ARRAY['AccessShareLock', 'RowShareLock', 'RowExclusiveLock',
                                     'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock',
                                     'ExclusiveLock', 'AccessExclusiveLock']
END;

-- The session that keeps the caller from locking one of relids in lock_mode: the first holding a
-- conflicting lock (or, if none, queued for one ahead of the caller), in words (NULL: none any
-- more), and how to end its hold.
CREATE FUNCTION unit_tests._lock_holder(relids oid[], lock_mode text, OUT description text, OUT remedy text)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  h record;
BEGIN
  SELECT l.pid, l.relation::regclass AS rel, l.mode, l.granted, a.application_name, a.usename, a.state,
         count(*) OVER () AS n
    INTO h
    FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
   WHERE l.locktype = 'relation' AND l.database = (SELECT d.oid FROM pg_database AS d WHERE d.datname = current_database())
     AND l.relation = ANY (relids) AND l.pid IS DISTINCT FROM pg_backend_pid()
     AND l.mode = ANY (unit_tests._lock_conflicts(lock_mode))
   ORDER BY l.granted DESC, l.relation, l.pid
   LIMIT 1;
  IF h.rel IS NULL THEN
    remedy := 'Try again';
    RETURN;
  END IF;
  description := format('table %s %s by %s%s', h.rel,
                        CASE WHEN h.granted THEN format('is locked (%s)', h.mode)
                             ELSE format('has a request for %s queued ahead of this one', h.mode) END,
                        CASE WHEN h.pid IS NULL THEN 'a prepared transaction'
                             ELSE format('pid %s (application %s, user %s, state %s)', h.pid,
                                         coalesce(quote_ident(nullif(h.application_name, '')), 'none'),
                                         coalesce(quote_ident(h.usename::text), 'unknown'),
                                         coalesce(h.state, 'not visible to you')) END,
                        CASE WHEN h.n > 1 THEN format(' and %s more', h.n - 1) ELSE '' END);
  remedy := CASE WHEN h.pid IS NULL THEN 'Commit or roll back the prepared transaction (pg_prepared_xacts)'
                 ELSE format('End that session''s transaction (SELECT pg_terminate_backend(%s) ends the session)', h.pid) END;
END
$$;

-- Locks the tables in lock_mode (in OID order, as every caller does, so that callers never deadlock
-- each other), waiting at most lock_timeout; then fails naming who holds them.
CREATE FUNCTION unit_tests._snapshot_lock(caller text, relids oid[], lock_mode text, lock_timeout interval)
  RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  -- The clause makes the set_config() below last for this call only.
  SET lock_timeout = 0
AS $$
DECLARE
  tables text := (SELECT string_agg(t.rel::regclass::text, ', ' ORDER BY t.rel) FROM unnest(relids) AS t(rel));
  timeout_ms bigint := least(ceil(extract(epoch FROM lock_timeout) * 1000), 2147483647);
  holder record;
BEGIN
  IF lock_mode IS NULL OR lock_mode NOT IN ('SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE') THEN
    RAISE EXCEPTION 'unit_tests._snapshot_lock: unknown lock mode %', quote_nullable(lock_mode)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF tables IS NULL THEN
    RETURN;
  END IF;
  PERFORM set_config('lock_timeout', timeout_ms::text, true);
  EXECUTE format('LOCK TABLE %s IN %s MODE', tables, lock_mode);
EXCEPTION WHEN lock_not_available THEN
  holder := unit_tests._lock_holder(relids, lock_mode);
  RAISE EXCEPTION '%: gave up waiting for a lock after % s: %', caller, trim_scale(timeout_ms / 1000.0),
      coalesce(holder.description, 'the sessions that held it are gone')
    USING ERRCODE = 'lock_not_available',
          HINT = format('Nothing was changed. %s, or wait longer: lock_timeout => ''1 min''.', holder.remedy);
END
$$;

-- In REPEATABLE READ and SERIALIZABLE, the transaction's snapshot was taken before the caller's
-- locks: a serialization failure (before anything is written) if any of these tables, or the
-- write log and bookkeeping of them, changed in between. READ COMMITTED takes a new snapshot
-- after the locks and needs no check.
CREATE FUNCTION unit_tests._snapshot_check_unseen(caller text, tables oid[], logged boolean) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changed oid;
BEGIN
  IF current_setting('transaction_isolation') = 'read committed' OR cardinality(tables) IS NOT DISTINCT FROM 0 THEN
    RETURN;
  END IF;
  IF logged THEN
    -- Every write to a tracked table is in the log, every restore updates the bookkeeping.
    changed := coalesce(unit_tests._snapshot_unseen('unit_tests._snapshot_changes', tables),
                        unit_tests._snapshot_unseen('unit_tests._snapshot_relations', tables));
  ELSE
    -- Tables that may not be tracked yet: their rows themselves.
    SELECT t.rel INTO changed FROM unnest(tables) AS t(rel)
     WHERE unit_tests._snapshot_unseen(t.rel::regclass) IS NOT NULL
     ORDER BY t.rel LIMIT 1;
  END IF;
  IF changed IS NOT NULL THEN
    RAISE EXCEPTION '%: table % was written by a transaction that committed after this transaction''s snapshot was taken',
        caller, changed::regclass
      USING ERRCODE = 'serialization_failure',
            HINT = format('In %s a transaction sees only what committed before its first statement. Nothing was changed: '
                          'retry the transaction, or call it in READ COMMITTED, where it sees every write committed '
                          'before it took its locks.', upper(current_setting('transaction_isolation')));
  END IF;
END
$$;

-- Whether the caller answers for the code of a table owned by `owner`: restore() writes the table,
-- and the owner's triggers and rules enabled ALWAYS (they fire under its replica role too), its
-- constraints and index expressions run with the writer's privileges. The owner, and the roles that
-- have its privileges (pg_has_role USAGE), answer for it. pg_has_role() counts a superuser as a
-- member of every role; here a superuser answers only for superusers and for the roles granted to
-- it, or a role that can create a table in a schema the superuser snapshots would get its code run
-- as a superuser.
CREATE FUNCTION unit_tests._snapshot_answers_for(owner oid) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN NOT (SELECT r.rolsuper FROM pg_roles AS r WHERE r.rolname = current_user)
            THEN pg_has_role(owner, 'USAGE')
            ELSE coalesce((SELECT r.rolsuper FROM pg_roles AS r WHERE r.oid = owner), false)
                 OR owner IN (WITH RECURSIVE m(role) AS (
                                SELECT unit_tests._snapshot_caller()
                                UNION
                                SELECT a.roleid FROM pg_auth_members AS a JOIN m ON a.member = m.role)
                              SELECT m.role FROM m) END;

-- The refusal of a table whose owner's code the caller does not answer for (_snapshot_answers_for).
CREATE FUNCTION unit_tests._snapshot_refuse_foreign(caller text, rel oid) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  owner text := (SELECT c.relowner::regrole::text FROM pg_class AS c WHERE c.oid = rel);
BEGIN
  RAISE EXCEPTION '%: table % belongs to role %, whose triggers, rules and constraints would run with your privileges',
      caller, rel::regclass, owner
    USING ERRCODE = 'insufficient_privilege',
          HINT = format('Use snapshots as %1$s (SET ROLE %1$s), leave its schemas out (schemas => ...), '
                        'or vouch for its code: GRANT %1$s TO %2$s.', owner, quote_ident(current_user));
END
$$;

-- The user schemas: not the system's, not this extension's, not another extension's.
CREATE FUNCTION unit_tests._snapshot_user_schema(nsp oid) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
RETURN (SELECT n.nspname NOT IN ('pg_catalog', 'information_schema', 'unit_tests')
           AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                            WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                              AND d.deptype = 'e')
          FROM pg_namespace AS n WHERE n.oid = nsp);

-- The schemas of a new snapshot, sorted and unique: the argument checked, or (NULL) every user
-- schema the caller may use.
CREATE FUNCTION unit_tests._snapshot_schemas(schemas text[]) RETURNS text[]
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  bad text;
BEGIN
  IF schemas IS NULL THEN
    RETURN (SELECT coalesce(array_agg(n.nspname::text ORDER BY n.nspname), '{}')
              FROM pg_namespace AS n
             WHERE unit_tests._snapshot_user_schema(n.oid) AND has_schema_privilege(n.oid, 'USAGE'));
  END IF;
  IF cardinality(schemas) = 0 THEN
    RAISE EXCEPTION 'unit_tests.snapshot: the list of schemas is empty'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the schemas to record, or omit the argument (NULL) for every user schema.';
  END IF;
  IF array_position(schemas, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'unit_tests.snapshot: the list of schemas contains NULL'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the names of existing schemas, or omit the argument for every user schema.';
  END IF;
  SELECT s INTO bad FROM unnest(schemas) AS s
   WHERE NOT EXISTS (SELECT 1 FROM pg_namespace AS n WHERE n.nspname = s) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unit_tests.snapshot: schema "%" does not exist', bad
      USING ERRCODE = 'invalid_schema_name',
            HINT = 'Pass the names of existing schemas, or omit the argument for every user schema.';
  END IF;
  SELECT s INTO bad FROM unnest(schemas) AS s JOIN pg_namespace AS n ON n.nspname = s
   WHERE NOT unit_tests._snapshot_user_schema(n.oid) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unit_tests.snapshot: schema "%" is a system or extension schema', bad
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Snapshots cover the schemas of your own tables.';
  END IF;
  SELECT s INTO bad FROM unnest(schemas) AS s JOIN pg_namespace AS n ON n.nspname = s
   WHERE NOT has_schema_privilege(n.oid, 'USAGE') LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unit_tests.snapshot: permission denied for schema %', quote_ident(bad)
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(schemas) AS s);
END
$$;

-- The tables and sequences a snapshot of these schemas covers: ordinary and partitioned tables and
-- sequences of the schemas (not temporary, not members of an extension), and every partition of a
-- partitioned table among them, whatever its schema.
CREATE FUNCTION unit_tests._snapshot_targets(schemas text[])
  RETURNS TABLE (relid oid, kind "char")
  LANGUAGE sql STABLE
BEGIN ATOMIC
  WITH RECURSIVE base AS (
    SELECT c.oid, c.relkind
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY (schemas) AND c.relkind IN ('r', 'p', 'S') AND c.relpersistence <> 't'
       AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype = 'e')),
  tree AS (
    SELECT oid, relkind FROM base
    UNION
    SELECT c.oid, c.relkind
      FROM tree JOIN pg_inherits AS i ON i.inhparent = tree.oid JOIN pg_class AS c ON c.oid = i.inhrelid
     WHERE tree.relkind = 'p')
  SELECT oid, relkind FROM tree;
END;

-- (These four have SQL-standard bodies, resolved when the extension is installed, and no SET
-- clause: the planner inlines them into the drift check, which calls them for every table.)

-- What drift detection compares: the live columns (a column dropped since does not matter to the
-- stored text of the rows, which never holds dropped columns), and the constraints with the
-- parents and partition bounds.
CREATE FUNCTION unit_tests._snapshot_columns(rel oid) RETURNS text
  LANGUAGE sql STABLE
RETURN (SELECT string_agg(format('%I %s %s%s%s', a.attname,
                                 format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END,
                                 CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END,
                                 CASE WHEN a.attgenerated <> '' THEN ' generated ' || pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END),
                          ', ' ORDER BY a.attnum)
          FROM pg_attribute AS a
          LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum AND a.attgenerated <> ''
         WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped);

CREATE FUNCTION unit_tests._snapshot_constraints(rel oid) RETURNS text
  LANGUAGE sql STABLE
RETURN concat_ws('; ',
         (SELECT string_agg(quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), ', ' ORDER BY c.conname)
            FROM pg_constraint AS c WHERE c.conrelid = rel),
         (SELECT string_agg('inherits ' || i.inhparent::regclass::text || coalesce(' ' || pg_get_expr(c.relpartbound, c.oid), ''),
                            ', ' ORDER BY i.inhseqno)
            FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhrelid = rel));

-- Whether both change-tracking triggers of a table are there, fire always, and are this
-- installation's (not restored from a dump).
CREATE FUNCTION unit_tests._snapshot_tracked(rel oid) RETURNS boolean
  LANGUAGE sql STABLE
RETURN (SELECT count(*) = 2 FROM pg_trigger AS g
         WHERE g.tgrelid = rel AND g.tgenabled = 'A'
           AND g.tgfoid = 'unit_tests._snapshot_track()'::regprocedure
           AND g.tgnargs = 1
           AND g.tgargs = convert_to((SELECT i.token FROM unit_tests._snapshot_installation AS i), 'UTF8')
                          || '\x00'::bytea
           AND ((g.tgname = 'pg_unit_tests_snapshot' AND g.tgtype = 29)              -- ROW, AFTER INSERT/DELETE/UPDATE
             OR (g.tgname = 'pg_unit_tests_snapshot_truncate' AND g.tgtype = 32)));  -- STATEMENT, AFTER TRUNCATE

-- The first difference between a snapshot's tables and the database now (NULL: none), as one
-- sentence, with the number of further differences.
CREATE FUNCTION unit_tests._snapshot_drift(snap integer) RETURNS text
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s record;
  found text[];
BEGIN
  SELECT * INTO s FROM unit_tests._snapshots WHERE id = snap;
  WITH rec AS (SELECT * FROM unit_tests._snapshot_relations AS r WHERE r.snapshot = snap),
  cur AS (SELECT t.relid, t.kind FROM unit_tests._snapshot_targets(s.schemas) AS t),
  what AS (SELECT k, CASE k WHEN 'S' THEN 'sequence' WHEN 'p' THEN 'partitioned table' ELSE 'table' END AS word
             FROM unnest(ARRAY['r', 'p', 'S']::"char"[]) AS k)
  SELECT array_agg(msg ORDER BY ord, msg) INTO found FROM (
    SELECT 1 AS ord, format('%s %s was dropped since snapshot "%s"', w.word, rec.relname, s.name) AS msg
      FROM rec JOIN what AS w ON w.k = rec.kind
     WHERE NOT EXISTS (SELECT 1 FROM cur WHERE cur.relid = rec.relid)
    UNION ALL
    SELECT 2, format('%s %s was created since snapshot "%s"', w.word, cur.relid::regclass, s.name)
      FROM cur JOIN what AS w ON w.k = cur.kind
     WHERE NOT EXISTS (SELECT 1 FROM rec WHERE rec.relid = cur.relid)
    UNION ALL
    SELECT 3, format('%s %s was renamed to %s since snapshot "%s"', w.word, rec.relname, rec.relid::regclass, s.name)
      FROM rec JOIN cur USING (relid) JOIN what AS w ON w.k = rec.kind
     WHERE rec.relname <> rec.relid::regclass::text
    UNION ALL
    SELECT 4, format('the columns of %s %s changed since snapshot "%s"', w.word, rec.relname, s.name)
      FROM rec JOIN cur USING (relid) JOIN what AS w ON w.k = rec.kind
     WHERE rec.kind <> 'S' AND rec.columns IS DISTINCT FROM unit_tests._snapshot_columns(rec.relid)
    UNION ALL
    SELECT 5, format('the constraints or partitioning of %s %s changed since snapshot "%s"', w.word, rec.relname, s.name)
      FROM rec JOIN cur USING (relid) JOIN what AS w ON w.k = rec.kind
     WHERE rec.kind <> 'S' AND rec.constraints IS DISTINCT FROM unit_tests._snapshot_constraints(rec.relid)
    UNION ALL
    SELECT 6, format('the change-tracking trigger of %s %s was dropped or disabled since snapshot "%s"',
                     w.word, rec.relname, s.name)
      FROM rec JOIN cur USING (relid) JOIN what AS w ON w.k = rec.kind
     WHERE rec.kind = 'r' AND NOT unit_tests._snapshot_tracked(rec.relid)) AS d;
  IF found IS NULL THEN
    RETURN NULL;
  ELSIF cardinality(found) = 1 THEN
    RETURN found[1];
  END IF;
  RETURN format('%s (and %s more difference%s)', found[1], cardinality(found) - 1,
                CASE WHEN cardinality(found) > 2 THEN 's' ELSE '' END);
END
$$;

-- The drift check of restore(): raises the first difference; remembers (for this backend, until
-- the next catalog invalidation it sees) that the snapshot passed (extension/src/snapshot/drift.cpp).
CREATE FUNCTION unit_tests._snapshot_catalog_epoch() RETURNS bigint
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_snapshot_catalog_epoch';
CREATE FUNCTION unit_tests._snapshot_verified(snap integer, epoch bigint) RETURNS void
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_snapshot_verified';
CREATE FUNCTION unit_tests._snapshot_unchanged(snap integer) RETURNS boolean
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_snapshot_unchanged';

CREATE FUNCTION unit_tests._snapshot_check_drift(snap integer) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  epoch bigint := unit_tests._snapshot_catalog_epoch();  -- read before the check
  drift text := unit_tests._snapshot_drift(snap);
  s record;
BEGIN
  IF drift IS NOT NULL THEN
    SELECT x.name, x.schemas INTO s FROM unit_tests._snapshots AS x WHERE x.id = snap;
    RAISE EXCEPTION 'unit_tests.restore: %', drift
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = format('Nothing was restored. Undo the change, or take the snapshot again: '
                          'SELECT unit_tests.drop_snapshot(%1$L); SELECT unit_tests.snapshot(%1$L, %2$L);',
                          s.name, s.schemas);
  END IF;
  PERFORM unit_tests._snapshot_verified(snap, epoch);
END
$$;

CREATE FUNCTION unit_tests.snapshot(name text, schemas text[] DEFAULT NULL, lock_timeout interval DEFAULT NULL)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  SET datestyle = 'ISO, YMD' SET intervalstyle = 'postgres' SET extra_float_digits = 1
  SET bytea_output = 'hex' SET lc_monetary = 'C'
AS $$
DECLARE
  wait interval := unit_tests._snapshot_lock_wait('unit_tests.snapshot', lock_timeout);
  chosen text[];
  tables oid[];
  r record;
  g record;
  snap integer;
  synced bigint;
  total bigint := 0;
  n bigint;
  lv bigint;
  ic boolean;
BEGIN
  PERFORM unit_tests._snapshot_check_writable('unit_tests.snapshot');
  PERFORM unit_tests._snapshot_check_new_name(name);
  chosen := unit_tests._snapshot_schemas(schemas);

  CREATE TEMP TABLE IF NOT EXISTS pg_unit_tests_targets (relid oid, kind "char") ON COMMIT DROP;
  TRUNCATE pg_unit_tests_targets;
  INSERT INTO pg_unit_tests_targets SELECT * FROM unit_tests._snapshot_targets(chosen);

  -- Privileges first, so that a refusal changes nothing: reading every row, and owning each table
  -- (the change-tracking trigger is created with ENABLE ALWAYS, which only an owner may do).
  FOR r IN SELECT t.relid, t.kind FROM pg_unit_tests_targets AS t ORDER BY t.relid LOOP
    IF NOT has_table_privilege(r.relid, 'SELECT') THEN
      RAISE EXCEPTION 'unit_tests.snapshot: permission denied for % %',
          CASE r.kind WHEN 'S' THEN 'sequence' ELSE 'table' END, r.relid::regclass
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'A snapshot reads every table and sequence of its schemas: grant SELECT, or pass only the schemas you may read.';
    END IF;
    IF r.kind <> 'S' AND NOT pg_has_role((SELECT c.relowner FROM pg_class AS c WHERE c.oid = r.relid), 'USAGE') THEN
      RAISE EXCEPTION 'unit_tests.snapshot: must be owner of table %', r.relid::regclass
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'snapshot() adds a change-tracking trigger to each table, which needs its owner (or a member of the owning role).';
    END IF;
    IF r.kind <> 'S' AND NOT unit_tests._snapshot_answers_for((SELECT c.relowner FROM pg_class AS c WHERE c.oid = r.relid)) THEN
      PERFORM unit_tests._snapshot_refuse_foreign('unit_tests.snapshot', r.relid);
    END IF;
  END LOOP;

  -- SHARE ROW EXCLUSIVE: writers wait until this transaction ends, so the rows read and the
  -- write-log position recorded below describe the same state; and it conflicts with itself, so
  -- two snapshot() calls on the same tables take turns instead of deadlocking on their triggers.
  tables := ARRAY(SELECT t.relid FROM pg_unit_tests_targets AS t WHERE t.kind <> 'S' ORDER BY t.relid);
  PERFORM unit_tests._snapshot_lock('unit_tests.snapshot', tables, 'SHARE ROW EXCLUSIVE', wait);
  PERFORM unit_tests._snapshot_check_unseen('unit_tests.snapshot',
                                             ARRAY(SELECT t.relid FROM pg_unit_tests_targets AS t
                                                    WHERE t.kind = 'r' ORDER BY t.relid), false);
  -- A snapshot of the same name may have been committed while this call waited.
  PERFORM unit_tests._snapshot_check_new_name(name);

  -- The triggers go on the tables that hold rows (partitions, not their partitioned parents: row
  -- triggers fire on the partition a row is routed to).
  FOR r IN SELECT t.relid FROM pg_unit_tests_targets AS t
            WHERE t.kind = 'r' AND NOT unit_tests._snapshot_tracked(t.relid)
            ORDER BY t.relid LOOP
    FOR g IN SELECT t.tgname FROM pg_trigger AS t
              WHERE t.tgrelid = r.relid
                AND t.tgname IN ('pg_unit_tests_snapshot', 'pg_unit_tests_snapshot_truncate') LOOP
      EXECUTE format('DROP TRIGGER %I ON %s', g.tgname, r.relid::regclass);
    END LOOP;
    EXECUTE format('CREATE TRIGGER pg_unit_tests_snapshot AFTER INSERT OR UPDATE OR DELETE '
                   'ON %1$s FOR EACH ROW EXECUTE FUNCTION unit_tests._snapshot_track(%2$L); '
                   'CREATE TRIGGER pg_unit_tests_snapshot_truncate AFTER TRUNCATE '
                   'ON %1$s FOR EACH STATEMENT EXECUTE FUNCTION unit_tests._snapshot_track(%2$L); '
                   'ALTER TABLE %1$s ENABLE ALWAYS TRIGGER pg_unit_tests_snapshot, '
                   'ENABLE ALWAYS TRIGGER pg_unit_tests_snapshot_truncate',
                   r.relid::regclass, (SELECT i.token FROM unit_tests._snapshot_installation AS i));
  END LOOP;

  -- (ON CONFLICT: the same name committed by a concurrent call on other tables.)
  INSERT INTO unit_tests._snapshots AS x (name, taken_at, schemas) VALUES (name, now(), chosen)
  ON CONFLICT ON CONSTRAINT _snapshots_name_per_owner DO NOTHING
  RETURNING x.id INTO snap;
  IF snap IS NULL THEN
    PERFORM unit_tests._snapshot_duplicate(name);
  END IF;
  synced := nextval('unit_tests._snapshot_write_seq');

  FOR r IN SELECT t.relid, t.kind FROM pg_unit_tests_targets AS t ORDER BY t.relid LOOP
    n := NULL;
    lv := NULL;
    ic := NULL;
    IF r.kind = 'r' THEN
      EXECUTE unit_tests._snapshot_sql_record(r.relid::regclass::text) USING snap, r.relid;
      GET DIAGNOSTICS n = ROW_COUNT;
      total := total + n;
    ELSIF r.kind = 'S' THEN
      EXECUTE format('SELECT s.last_value, s.is_called FROM %s AS s', r.relid::regclass) INTO lv, ic;
    END IF;
    INSERT INTO unit_tests._snapshot_relations
      (snapshot, relid, kind, relname, columns, constraints, synced, filenode, rows, last_value, is_called)
    VALUES (snap, r.relid, r.kind, r.relid::regclass::text,
            CASE WHEN r.kind <> 'S' THEN unit_tests._snapshot_columns(r.relid) END,
            CASE WHEN r.kind <> 'S' THEN unit_tests._snapshot_constraints(r.relid) END,
            synced, pg_relation_filenode(r.relid), n, lv, ic);
  END LOOP;

  UPDATE unit_tests._snapshots AS s
     SET rows = total,
         bytes = (SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM unit_tests._snapshot_rows AS x
                   WHERE x.snapshot = snap)
   WHERE s.id = snap;
  DROP TABLE pg_unit_tests_targets;
  RETURN total;
END
$$;
COMMENT ON FUNCTION unit_tests.snapshot(text, text[], interval) IS
  'Records the rows of every table and the state of every sequence of the schemas (default: every user schema); returns the number of rows';

-- The statements restore() and snapshot() generate, one builder each (sql/snapshot_names shows
-- their text). They take the table's name as regclass prints it under this extension's pinned
-- search_path (schema-qualified, quoted: _snapshot_relations.relname, which drift checks keep
-- exact) and its column lists (_snapshot_column_lists): string functions only (STABLE, as
-- format() is), which the planner inlines. Every statement quotes every column and refers to
-- columns only through aliases of its own, never to a bare alias as a whole-row value (a user
-- column of that name would be taken): no user column, table, schema or function name can be
-- taken for one of its names. Parameters carry every value.

-- The columns a restore writes (not generated ones: they are computed again), as a quoted list
-- and as the fields of a row value q.r of the table's type.
CREATE FUNCTION unit_tests._snapshot_column_lists(rel oid) RETURNS TABLE (names text, fields text)
  LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
         string_agg('(q.r).' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
    FROM pg_attribute AS a
   WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
END;

-- snapshot(): every row of the table, as the text of the whole row, with its version's identity.
-- $1 snapshot id, $2 table.
CREATE FUNCTION unit_tests._snapshot_sql_record(tab text) RETURNS text
  LANGUAGE sql STABLE
RETURN format($sql$INSERT INTO unit_tests._snapshot_rows (snapshot, relid, row_ctid, row_xmin, data)
SELECT $1, $2, live.ctid, live.xmin, (live.*)::text FROM ONLY %s AS live$sql$, tab);

-- The recorded rows of the CTE rows_from (column data: the table's row text) go back into the
-- table, returning where each one is now. The text is cast once per row in a subquery (OFFSET 0
-- keeps the planner from repeating the cast for every column); identity values are kept.
CREATE FUNCTION unit_tests._snapshot_sql_put_back(tab text, names text, fields text, rows_from text)
  RETURNS text
  LANGUAGE sql STABLE
RETURN format($sql$INSERT INTO %1$s AS restored%2$s OVERRIDING SYSTEM VALUE
    SELECT %3$s FROM (SELECT %4$s.data::%1$s AS r FROM %4$s OFFSET 0) AS q
    RETURNING restored.ctid, restored.xmin, (restored.*)::text AS data$sql$,
              tab, ' (' || names || ')', coalesce(fields, ''), rows_from);

-- restore() of a table rewritten since (its rows moved, keeping their xmin): every recorded row
-- goes back (after the table was emptied) and is re-keyed. $1 snapshot id, $2 table.
CREATE FUNCTION unit_tests._snapshot_sql_reload(tab text, names text, fields text) RETURNS text
  LANGUAGE sql STABLE
RETURN format($sql$WITH recorded AS (
    DELETE FROM unit_tests._snapshot_rows AS w WHERE w.snapshot = $1 AND w.relid = $2 RETURNING w.data),
  back AS (
    %s)
INSERT INTO unit_tests._snapshot_rows (snapshot, relid, row_ctid, row_xmin, data)
SELECT $1, $2, back.ctid, back.xmin, back.data FROM back$sql$,
              unit_tests._snapshot_sql_put_back(tab, names, fields, 'recorded'));

-- restore() of a written table, first statement: at the logged ctids ($1), the row versions the
-- snapshot does not know ($2: the recorded "ctid xmin" at those ctids) go.
CREATE FUNCTION unit_tests._snapshot_sql_delete(tab text) RETURNS text
  LANGUAGE sql STABLE
RETURN format($sql$DELETE FROM ONLY %s AS live
 WHERE live.ctid = ANY ($1) AND (live.ctid::text || ' ' || live.xmin::text) <> ALL ($2)$sql$, tab);

-- Second statement (after the first, so that a key it freed is free): the recorded rows at the
-- logged ctids ($2 keys, $3 text, $4 their ids in _snapshot_rows) that are not there any more go
-- back, and the snapshot records their new identities. $5 snapshot id, $6 table.
CREATE FUNCTION unit_tests._snapshot_sql_insert(tab text, names text, fields text) RETURNS text
  LANGUAGE sql STABLE
RETURN format($sql$WITH gone AS MATERIALIZED (
    SELECT g.data, g.id FROM unnest($2, $3, $4) AS g(key, data, id)
     WHERE g.key <> ALL (ARRAY(SELECT live.ctid::text || ' ' || live.xmin::text
                                 FROM ONLY %1$s AS live WHERE live.ctid = ANY ($1)))),
  back AS (
    %2$s),
  forgotten AS (
    DELETE FROM unit_tests._snapshot_rows AS w WHERE w.ctid = ANY (ARRAY(SELECT gone.id FROM gone)))
INSERT INTO unit_tests._snapshot_rows (snapshot, relid, row_ctid, row_xmin, data)
SELECT $5, $6, back.ctid, back.xmin, back.data FROM back$sql$,
              tab, unit_tests._snapshot_sql_put_back(tab, names, fields, 'gone'));

-- What restore() has to do for each table of a snapshot written since it synced it: the ctids
-- logged, whether the table was rewritten (TRUNCATE, or another file node), its column lists, and,
-- found in one pass for all tables (one index probe per ctid), the rows recorded at those ctids.
-- Only the ctids of row versions replaced or deleted can hold one: a recorded row is gone only if
-- it was replaced or deleted since (or the table rewritten), and a version written since is never
-- one. (Its SET clauses: the planner's usual settings, whatever the caller's; the log has no index
-- and is read whole.)
CREATE FUNCTION unit_tests._snapshot_dirty(snap integer)
  RETURNS TABLE (relid oid, tab text, names text, fields text, rewritten boolean,
                 ctids tid[], keys text[], data text[], ids tid[])
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  SET enable_seqscan = on SET enable_bitmapscan = on
AS $$
  WITH logged AS MATERIALIZED (
    SELECT c.relid,
           bool_or(c.old_ctid IS NULL AND c.new_ctid IS NULL) AS truncated,
           array_agg(DISTINCT v.ctid) FILTER (WHERE v.ctid IS NOT NULL) AS ctids,
           array_agg(DISTINCT v.ctid) FILTER (WHERE v.ctid IS NOT NULL AND v.old) AS olds
      FROM unit_tests._snapshot_relations AS x
      JOIN unit_tests._snapshot_changes AS c ON c.relid = x.relid AND c.seq > x.synced
     CROSS JOIN LATERAL (VALUES (c.old_ctid, true), (c.new_ctid, false)) AS v(ctid, old)
     WHERE x.snapshot = snap AND x.kind = 'r'
     GROUP BY c.relid),
  dirty AS MATERIALIZED (
    SELECT x.relid, x.relname, coalesce(l.ctids, '{}') AS ctids, coalesce(l.olds, '{}') AS olds,
           l.truncated OR x.filenode IS DISTINCT FROM pg_relation_filenode(x.relid) AS rewritten
      FROM logged AS l JOIN unit_tests._snapshot_relations AS x ON x.snapshot = snap AND x.relid = l.relid)
  SELECT d.relid, d.relname, cl.names, cl.fields, d.rewritten, d.ctids,
         coalesce(k.keys, '{}'), coalesce(k.data, '{}'), coalesce(k.ids, '{}')
    FROM dirty AS d
   CROSS JOIN LATERAL unit_tests._snapshot_column_lists(d.relid) AS cl
    LEFT JOIN LATERAL (
      SELECT array_agg(l.key) AS keys, array_agg(l.data) AS data, array_agg(l.id) AS ids
        FROM unnest(d.olds) AS t(c) CROSS JOIN LATERAL (
          SELECT w.ctid AS id, w.row_ctid::text || ' ' || w.row_xmin::text AS key, w.data
            FROM unit_tests._snapshot_rows AS w
           WHERE w.snapshot = snap AND w.relid = d.relid AND w.row_ctid = t.c OFFSET 0) AS l
       WHERE NOT d.rewritten) AS k ON true
   ORDER BY d.relid
$$;

-- Puts the dirty tables back and re-keys the rows put back; returns the tables rewritten. Its own
-- writes are not logged, except in tables another snapshot tracks (those need to see them).
CREATE FUNCTION unit_tests._snapshot_apply(snap integer) RETURNS oid[]
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  -- No user trigger, foreign-key check or cascade fires while the recorded rows go back.
  SET session_replication_role = replica
  -- The work must be proportional to the ctids logged, not to the tables: TID scans and index
  -- scans only, whatever the (often missing) statistics of the snapshot's tables suggest.
  SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
DECLARE
  t record;
  restored oid[] := '{}';
BEGIN
  PERFORM unit_tests._snapshot_quiet(unit_tests._snapshot_private(snap));
  FOR t IN SELECT * FROM unit_tests._snapshot_dirty(snap) LOOP
    IF t.rewritten THEN
      -- (ctid, xmin) identifies nothing in a rewritten table: every row is replaced.
      EXECUTE format('DELETE FROM ONLY %s', t.tab);
      EXECUTE unit_tests._snapshot_sql_reload(t.tab, t.names, t.fields) USING snap, t.relid;
    ELSE
      EXECUTE unit_tests._snapshot_sql_delete(t.tab) USING t.ctids, t.keys;
      EXECUTE unit_tests._snapshot_sql_insert(t.tab, t.names, t.fields)
        USING t.ctids, t.keys, t.data, t.ids, snap, t.relid;
    END IF;
    restored := restored || t.relid;
  END LOOP;
  PERFORM unit_tests._snapshot_quiet(NULL);
  RETURN restored;
END
$$;

-- Whether the caller may restore: every refusal before the first write.
CREATE FUNCTION unit_tests._snapshot_check_restore_privileges(snap integer) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
BEGIN
  IF NOT has_parameter_privilege('session_replication_role', 'SET') THEN
    RAISE EXCEPTION 'unit_tests.restore: permission denied to set session_replication_role'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'restore() writes with session_replication_role = replica so that no user trigger or foreign-key action fires. '
                   'A superuser can allow it: GRANT SET ON PARAMETER session_replication_role TO role.';
  END IF;
  -- (Its owner may have changed since the snapshot was taken.)
  SELECT x.relid INTO r FROM unit_tests._snapshot_relations AS x JOIN pg_class AS c ON c.oid = x.relid
   WHERE x.snapshot = snap AND x.kind = 'r'
     AND c.relowner <> (SELECT unit_tests._snapshot_caller())  -- (the usual case: no call)
     AND NOT unit_tests._snapshot_answers_for(c.relowner)
   ORDER BY x.relid LIMIT 1;
  IF FOUND THEN
    PERFORM unit_tests._snapshot_refuse_foreign('unit_tests.restore', r.relid);
  END IF;
  SELECT x.relid, x.kind INTO r FROM unit_tests._snapshot_relations AS x
   WHERE x.snapshot = snap
     AND ((x.kind = 'S' AND NOT has_sequence_privilege(x.relid, 'UPDATE'))
          OR (x.kind = 'r' AND NOT has_table_privilege(x.relid, 'SELECT, INSERT, DELETE')))
   ORDER BY x.relid LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unit_tests.restore: permission denied for % %',
        CASE r.kind WHEN 'S' THEN 'sequence' ELSE 'table' END, r.relid::regclass
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'restore() needs SELECT, INSERT and DELETE on every table and UPDATE on every sequence of the snapshot. Nothing was restored.';
  END IF;
END
$$;

CREATE FUNCTION unit_tests.restore(name text, lock_timeout interval DEFAULT NULL) RETURNS integer
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  SET datestyle = 'ISO, YMD' SET intervalstyle = 'postgres' SET extra_float_digits = 1
  SET bytea_output = 'hex' SET lc_monetary = 'C'
  -- JIT compiles for hundreds of milliseconds the plans that enable_seqscan = off makes look costly.
  SET jit = off
AS $$
DECLARE
  wait interval := unit_tests._snapshot_lock_wait('unit_tests.restore', lock_timeout);
  snap integer;
  tables oid[];
  restored oid[];
BEGIN
  PERFORM unit_tests._snapshot_check_writable('unit_tests.restore');
  snap := unit_tests._snapshot_find('unit_tests.restore', name);

  -- Everything that could refuse is checked before the first write. Drift first (skipped when
  -- this backend checked this snapshot already and has seen no catalog change since; asked again
  -- once the tables are locked, for a change committed in between).
  IF NOT unit_tests._snapshot_unchanged(snap) THEN
    PERFORM unit_tests._snapshot_check_drift(snap);
  END IF;
  PERFORM unit_tests._snapshot_check_restore_privileges(snap);
  tables := ARRAY(SELECT x.relid FROM unit_tests._snapshot_relations AS x
                   WHERE x.snapshot = snap AND x.kind <> 'S' ORDER BY x.relid);
  PERFORM unit_tests._snapshot_lock('unit_tests.restore', tables, 'EXCLUSIVE', wait);
  PERFORM unit_tests._snapshot_check_unseen('unit_tests.restore', tables, true);
  IF NOT unit_tests._snapshot_unchanged(snap) THEN
    PERFORM unit_tests._snapshot_check_drift(snap);
  END IF;

  restored := unit_tests._snapshot_apply(snap);
  IF cardinality(restored) > 0 THEN
    -- The sync point goes after every entry logged so far (restore's own, where logged, included).
    UPDATE unit_tests._snapshot_relations AS x
       SET synced = nextval('unit_tests._snapshot_write_seq'), filenode = pg_relation_filenode(x.relid)
     WHERE x.snapshot = snap AND x.relid = ANY (restored);
    PERFORM unit_tests._snapshot_prune(restored);
  END IF;
  -- Sequences last: setval() is not undone by a rollback, so nothing may fail after it.
  PERFORM setval(x.relid::regclass, x.last_value, x.is_called)
     FROM unit_tests._snapshot_relations AS x
    WHERE x.snapshot = snap AND x.kind = 'S';
  RETURN cardinality(restored);
END
$$;
COMMENT ON FUNCTION unit_tests.restore(text, interval) IS
  'Puts the rows and sequences of a snapshot back, rewriting only the tables written since; returns the number of tables rewritten';

CREATE FUNCTION unit_tests.drop_snapshot(name text, lock_timeout interval DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  wait interval := unit_tests._snapshot_lock_wait('unit_tests.drop_snapshot', lock_timeout);
  snap integer;
  relids oid[];
  untracked oid[];
  rel oid;
  g record;
BEGIN
  PERFORM unit_tests._snapshot_check_writable('unit_tests.drop_snapshot');
  snap := unit_tests._snapshot_find('unit_tests.drop_snapshot', name);
  relids := ARRAY(SELECT x.relid FROM unit_tests._snapshot_relations AS x
                   WHERE x.snapshot = snap AND x.kind <> 'S' ORDER BY x.relid);
  DELETE FROM unit_tests._snapshots AS x WHERE x.id = snap;
  PERFORM unit_tests._snapshot_prune(relids);
  -- Tables no snapshot tracks any more lose their triggers, if they still exist and we own them
  -- (row security shows a table's owner every snapshot of it).
  untracked := ARRAY(SELECT t.rel FROM unnest(relids) AS t(rel) JOIN pg_class AS c ON c.oid = t.rel
                      WHERE pg_has_role(c.relowner, 'USAGE')
                        AND NOT EXISTS (SELECT 1 FROM unit_tests._snapshot_relations AS r WHERE r.relid = t.rel)
                      ORDER BY t.rel);
  PERFORM unit_tests._snapshot_lock('unit_tests.drop_snapshot', untracked, 'ACCESS EXCLUSIVE', wait);
  FOREACH rel IN ARRAY untracked LOOP
    FOR g IN SELECT t.tgname FROM pg_trigger AS t
              WHERE t.tgrelid = rel
                AND t.tgname IN ('pg_unit_tests_snapshot', 'pg_unit_tests_snapshot_truncate') LOOP
      EXECUTE format('DROP TRIGGER %I ON %s', g.tgname, rel::regclass);
    END LOOP;
  END LOOP;
END
$$;
COMMENT ON FUNCTION unit_tests.drop_snapshot(text, interval) IS 'Removes a snapshot (and, with the last one, the change-tracking triggers)';

CREATE FUNCTION unit_tests.snapshots()
  RETURNS TABLE (name text, owner regrole, taken_at timestamptz, schemas text[], tables integer,
                 sequences integer, rows bigint, bytes bigint)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.name, s.owner::regrole, s.taken_at, s.schemas,
         (SELECT count(*)::integer FROM unit_tests._snapshot_relations AS r WHERE r.snapshot = s.id AND r.kind <> 'S'),
         (SELECT count(*)::integer FROM unit_tests._snapshot_relations AS r WHERE r.snapshot = s.id AND r.kind = 'S'),
         s.rows, s.bytes
    FROM unit_tests._snapshots AS s
   WHERE s.owner = unit_tests._snapshot_caller()
   ORDER BY s.name
$$;
COMMENT ON FUNCTION unit_tests.snapshots() IS
  'Your snapshots: name, owner, when, schemas, tables, sequences, rows, bytes stored';
