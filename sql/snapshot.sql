-- Data snapshots: unit_tests.snapshot/restore/snapshots/drop_snapshot.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_unit_tests;
RESET client_min_messages;
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA shop;
SET search_path = shop, public;

-- Identity, generated and dropped columns, a TOASTed value, foreign keys, a partitioned table,
-- an inheritance child, user triggers that must not fire during restore.
CREATE TABLE customers (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  gone int,
  photo bytea,
  upper_name text GENERATED ALWAYS AS (upper(name)) STORED);
ALTER TABLE customers DROP COLUMN gone;
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer int NOT NULL REFERENCES customers ON DELETE CASCADE,
  amount numeric(10, 2) CHECK (amount > 0),
  placed tstzrange,
  tags text[],
  doc jsonb);
CREATE TABLE events (at date NOT NULL, what text) PARTITION BY RANGE (at);
CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE base (k int);
CREATE TABLE child (extra text) INHERITS (base);
CREATE SEQUENCE counter;
CREATE TABLE audit (n int);
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO shop.audit VALUES (1); RETURN NULL; END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE FUNCTION audit();

INSERT INTO customers (name, photo)
SELECT 'customer ' || i, CASE WHEN i = 1 THEN decode(repeat(md5('x'), 40000), 'hex') END
  FROM generate_series(1, 20) AS i;
INSERT INTO orders (customer, amount, placed, tags, doc)
SELECT 1 + i % 20, i * 1.25, tstzrange('2024-01-01', '2024-01-01'::timestamptz + i * interval '1 hour'),
       ARRAY['a', NULL, 'c "q"'], jsonb_build_object('i', i, 'nested', jsonb_build_array(i, 'x'))
  FROM generate_series(1, 200) AS i;
INSERT INTO events SELECT date '2023-06-01' + i * 7, 'event ' || i FROM generate_series(0, 60) AS i;
INSERT INTO base VALUES (1), (2);
INSERT INTO child VALUES (3, 'three');
SELECT nextval('counter'), nextval('counter');
TRUNCATE audit;

SELECT unit_tests.snapshot('fixture', ARRAY['shop']);
SELECT name, owner, schemas, tables, sequences, rows, bytes > 0 AS has_bytes
  FROM unit_tests.snapshots();
-- the change-tracking triggers, two per table that holds rows (not on the partitioned parent)
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger WHERE tgname LIKE 'pg_unit_tests_snapshot%' ORDER BY 1, 2;

-- Copies to compare with, row by row.
CREATE TEMP TABLE c0 AS SELECT * FROM customers;
CREATE TEMP TABLE o0 AS SELECT * FROM orders;
CREATE TEMP TABLE e0 AS SELECT tableoid::regclass AS part, * FROM events;
CREATE TEMP TABLE b0 AS SELECT tableoid::regclass AS part, * FROM base;
CREATE TEMP TABLE s0 AS
  SELECT 'counter' AS s, last_value, is_called FROM counter
  UNION ALL SELECT 'orders_id_seq', last_value, is_called FROM orders_id_seq
  UNION ALL SELECT 'customers_id_seq', last_value, is_called FROM customers_id_seq;
CREATE FUNCTION pg_temp.differences() RETURNS bigint LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM ((TABLE c0 EXCEPT ALL TABLE shop.customers) UNION ALL (TABLE shop.customers EXCEPT ALL TABLE c0)) AS d)
       + (SELECT count(*) FROM ((TABLE o0 EXCEPT ALL TABLE shop.orders) UNION ALL (TABLE shop.orders EXCEPT ALL TABLE o0)) AS d)
       + (SELECT count(*) FROM ((TABLE e0 EXCEPT ALL SELECT tableoid::regclass, * FROM shop.events)
                                UNION ALL (SELECT tableoid::regclass, * FROM shop.events EXCEPT ALL TABLE e0)) AS d)
       + (SELECT count(*) FROM ((TABLE b0 EXCEPT ALL SELECT tableoid::regclass, * FROM shop.base)
                                UNION ALL (SELECT tableoid::regclass, * FROM shop.base EXCEPT ALL TABLE b0)) AS d)
       + (SELECT count(*) FROM ((TABLE s0 EXCEPT ALL
            (SELECT 'counter', last_value, is_called FROM shop.counter
             UNION ALL SELECT 'orders_id_seq', last_value, is_called FROM shop.orders_id_seq
             UNION ALL SELECT 'customers_id_seq', last_value, is_called FROM shop.customers_id_seq))) AS d)
$$;

-- Nothing written: nothing rewritten.
SELECT unit_tests.restore('fixture') AS tables_rewritten;

-- A test writes: updates, deletes (cascading), inserts, moves a row across partitions, truncates,
-- writes through the parent of an inheritance child, uses sequences.
UPDATE customers SET name = 'renamed', photo = NULL WHERE id = 1;
DELETE FROM customers WHERE id = 2;
INSERT INTO customers (name) VALUES ('new customer');
INSERT INTO orders (customer, amount) VALUES (3, 99);
UPDATE events SET at = '2024-03-01' WHERE at = '2023-06-01';
TRUNCATE events_2023;
UPDATE base SET k = k * 10;
SELECT nextval('counter');
SELECT setval('counter', 1, false);
SELECT count(*) AS audit_rows_written_by_the_test FROM audit;
TRUNCATE audit;
SELECT pg_temp.differences() > 0 AS changed;

SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
SELECT count(*) AS user_trigger_fired FROM audit;
-- the restored sequence goes on where it was
SELECT nextval('counter'), nextval('orders_id_seq');
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
-- foreign keys still hold and still work
SELECT count(*) AS orphans FROM orders AS o WHERE NOT EXISTS (SELECT 1 FROM customers AS c WHERE c.id = o.customer);
INSERT INTO orders (customer, amount) VALUES (12345, 1);

-- A write rolled back leaves the table clean; a committed one is restored.
BEGIN;
DELETE FROM orders;
ROLLBACK;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
-- Repeated restores after small changes touch only the rows changed, and stay exact.
UPDATE orders SET amount = amount + 1 WHERE id % 50 = 0;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
DELETE FROM orders WHERE id % 3 = 0;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
-- VACUUM FULL moves every row: still exact.
VACUUM FULL orders;
UPDATE orders SET amount = 1 WHERE id = 1;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
-- The whole restore is one transaction: rolled back, it is undone.
DELETE FROM customers;
BEGIN;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
ROLLBACK;
SELECT count(*) AS customers_left FROM customers;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;

-- Only the row versions written since are touched: every other one stays where it was.
CREATE TEMP TABLE versions AS SELECT ctid AS c, xmin::text AS m FROM orders;
UPDATE orders SET amount = amount + 1 WHERE id = 7;
DELETE FROM orders WHERE id = 8;
INSERT INTO orders (customer, amount) VALUES (4, 5);
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT count(*) AS row_versions_replaced FROM versions AS v
 WHERE NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.ctid = v.c AND o.xmin::text = v.m);
SELECT pg_temp.differences() AS differences;
SELECT count(*) AS changes_left_in_the_log FROM unit_tests._snapshot_changes;
-- restore() does not log its own writes (_snapshot_quiet); the switch never outlives the
-- (sub)transaction that set it, even one that fails, and silences only tables the caller owns.
BEGIN;
SAVEPOINT a;
SELECT unit_tests._snapshot_quiet(ARRAY['orders'::regclass::oid]) AS silenced;
UPDATE orders SET amount = amount WHERE id = 1;
SELECT count(*) AS logged_while_quiet FROM unit_tests._snapshot_changes WHERE relid = 'orders'::regclass;
SELECT 1 / 0;
ROLLBACK TO a;
UPDATE orders SET amount = amount WHERE id = 1;
SELECT count(*) AS logged_after_a_failed_savepoint FROM unit_tests._snapshot_changes WHERE relid = 'orders'::regclass;
SELECT unit_tests._snapshot_quiet(ARRAY['orders'::regclass::oid]) AS silenced;
COMMIT;
UPDATE orders SET amount = amount WHERE id = 1;
SELECT count(*) AS logged_after_commit FROM unit_tests._snapshot_changes WHERE relid = 'orders'::regclass;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT count(*) AS changes_left_in_the_log FROM unit_tests._snapshot_changes;
-- COPY, INSERT ... ON CONFLICT DO UPDATE, a row moved to another partition, a write rolled back to
-- a savepoint next to one committed.
COPY orders (customer, amount) FROM stdin;
5	10
6	11
\.
INSERT INTO customers (id, name) OVERRIDING SYSTEM VALUE VALUES (3, 'upserted'), (500, 'new')
  ON CONFLICT (id) DO UPDATE SET name = excluded.name;
UPDATE events SET at = at + 365 WHERE at < '2023-07-01';
BEGIN;
UPDATE base SET k = -1 WHERE k = 2;
SAVEPOINT a;
DELETE FROM child;
ROLLBACK TO a;
COMMIT;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
-- A ctid freed by VACUUM and taken by a later insert: the row version there is told apart by xmin.
TRUNCATE ONLY base;
SELECT unit_tests.restore('fixture') AS tables_rewritten;  -- the rows go back to a new, empty file
CREATE TEMP TABLE freed AS SELECT ctid AS c FROM ONLY base WHERE k = 1;
DELETE FROM base WHERE k = 1;
VACUUM base;
INSERT INTO base VALUES (100);
SELECT ctid = (SELECT c FROM freed) AS ctid_reused FROM ONLY base WHERE k = 100;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
-- Restored again and again, without anything written in between: nothing to do.
SELECT unit_tests.restore('fixture') AS tables_rewritten;

-- Snapshots survive commits and other sessions (see tests/snapshot); a second snapshot is independent.
INSERT INTO base VALUES (42);
SELECT unit_tests.snapshot('with 42', ARRAY['shop']);
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT count(*) FROM base WHERE k = 42;
SELECT unit_tests.restore('with 42') AS tables_rewritten;
SELECT count(*) FROM base WHERE k = 42;
SELECT unit_tests.drop_snapshot('with 42');
SELECT unit_tests.restore('fixture') AS tables_rewritten;

-- Schema drift: one clear error naming the table, and nothing restored.
DELETE FROM base;
CREATE TABLE shop.late (i int);
SELECT unit_tests.restore('fixture');
SELECT count(*) AS base_rows_still_deleted FROM base;
DROP TABLE shop.late;
ALTER TABLE orders ADD COLUMN note text;
SELECT unit_tests.restore('fixture');
ALTER TABLE orders DROP COLUMN note;  -- a dropped column is no drift
ALTER TABLE orders ADD CONSTRAINT small CHECK (amount < 1000000);
SELECT unit_tests.restore('fixture');
ALTER TABLE orders DROP CONSTRAINT small;
ALTER TABLE child RENAME TO kid;
SELECT unit_tests.restore('fixture');
ALTER TABLE kid RENAME TO child;
ALTER TABLE events DETACH PARTITION events_2024;
SELECT unit_tests.restore('fixture');
ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE orders DISABLE TRIGGER pg_unit_tests_snapshot;
SELECT unit_tests.restore('fixture');
ALTER TABLE orders ENABLE ALWAYS TRIGGER pg_unit_tests_snapshot;
CREATE SEQUENCE shop.more;
CREATE TABLE shop.later (i int);
SELECT unit_tests.restore('fixture');
DROP SEQUENCE shop.more;
DROP TABLE shop.later;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;

-- Bad input.
SELECT unit_tests.restore('no such snapshot');
SELECT unit_tests.drop_snapshot('no such snapshot');
SELECT unit_tests.restore(NULL);
SELECT unit_tests.snapshot('fixture', ARRAY['shop']);
SELECT unit_tests.snapshot('', ARRAY['shop']);
SELECT unit_tests.snapshot('x', ARRAY['shop', 'no_such_schema']);
SELECT unit_tests.snapshot('x', ARRAY['pg_catalog']);
SELECT unit_tests.snapshot('x', ARRAY['unit_tests']);
SELECT unit_tests.snapshot('x', '{}');
SELECT unit_tests.snapshot('x', ARRAY['shop', NULL]);
SELECT unit_tests.restore('fixture', lock_timeout => '0');
SELECT unit_tests.drop_snapshot('fixture', lock_timeout => '-1 s');
-- In a read-only transaction (or on a standby), each says so.
BEGIN READ ONLY;
SELECT unit_tests.restore('fixture');
ROLLBACK;
BEGIN READ ONLY;
SELECT unit_tests.snapshot('x', ARRAY['shop']);
ROLLBACK;
BEGIN READ ONLY;
SELECT unit_tests.drop_snapshot('fixture');
ROLLBACK;
-- How long they wait for their table locks (tests/snapshot shows the wait itself): the argument,
-- else the session's lock_timeout, else 10 seconds, never forever.
SELECT unit_tests._snapshot_lock_wait('test', NULL) AS by_default;
SET lock_timeout = '250ms';
SELECT unit_tests._snapshot_lock_wait('test', NULL) AS lock_timeout_set;
RESET lock_timeout;
SELECT unit_tests._snapshot_lock_wait('test', '1 min') AS argument;

-- Another role: someone else's snapshot does not exist for it (snapshot_privacy shows more), and it may
-- not snapshot tables it may not read.
CREATE ROLE pgut_snapshot_user;
GRANT USAGE ON SCHEMA shop TO pgut_snapshot_user;
SET ROLE pgut_snapshot_user;
SELECT unit_tests.restore('fixture');
SELECT unit_tests.drop_snapshot('fixture');
SELECT unit_tests.snapshot('fixture', ARRAY['shop']);
SELECT unit_tests.snapshot('mine', ARRAY['shop']);
SELECT count(*) AS visible_snapshots FROM unit_tests.snapshots();
SELECT count(*) AS visible_rows FROM unit_tests._snapshot_rows;
SELECT unit_tests._snapshot_quiet(ARRAY['shop.orders'::regclass::oid]) AS silenced_not_owner;
RESET ROLE;
-- a role that owns its tables may use snapshots, and restore needs the replica-role privilege
CREATE SCHEMA own AUTHORIZATION pgut_snapshot_user;
SET ROLE pgut_snapshot_user;
CREATE TABLE own.t (i int PRIMARY KEY);
INSERT INTO own.t VALUES (1), (2);
SELECT unit_tests.snapshot('mine', ARRAY['own']);
DELETE FROM own.t;
SELECT unit_tests.restore('mine');
RESET ROLE;
GRANT SET ON PARAMETER session_replication_role TO pgut_snapshot_user;
SET ROLE pgut_snapshot_user;
SELECT unit_tests.restore('mine') AS tables_rewritten;
SELECT * FROM own.t ORDER BY i;
SELECT name, owner FROM unit_tests.snapshots();
SELECT unit_tests.drop_snapshot('mine');
RESET ROLE;
DROP SCHEMA own CASCADE;
REVOKE SET ON PARAMETER session_replication_role FROM pgut_snapshot_user;
REVOKE USAGE ON SCHEMA shop FROM pgut_snapshot_user;
DROP ROLE pgut_snapshot_user;

-- Dropping the last snapshot removes the triggers.
SELECT unit_tests.drop_snapshot('fixture');
SELECT count(*) AS tracking_triggers FROM pg_trigger WHERE tgname LIKE 'pg_unit_tests_snapshot%';
SELECT count(*) AS stored_rows FROM unit_tests._snapshot_rows;
SELECT count(*) AS logged_changes FROM unit_tests._snapshot_changes;
DROP SCHEMA shop CASCADE;
RESET search_path;

-- The C trigger and the commit-time compaction write and read the write log and the installation
-- identity with heap functions: those two tables are heap tables whatever the server's
-- default_table_access_method (a columnar default would otherwise get heap pages written into it).
\set here :DBNAME
CREATE DATABASE pgut_other_access_method TEMPLATE template0;
\c pgut_other_access_method
CREATE ACCESS METHOD pgut_not_heap TYPE TABLE HANDLER heap_tableam_handler;
SET default_table_access_method = pgut_not_heap;
SET client_min_messages = warning;
CREATE EXTENSION pg_unit_tests;
RESET client_min_messages;
SELECT c.relname, a.amname FROM pg_class AS c JOIN pg_am AS a ON a.oid = c.relam
 WHERE c.oid IN ('unit_tests._snapshot_changes'::regclass, 'unit_tests._snapshot_installation'::regclass)
 ORDER BY c.relname;
-- Nor does the trigger write into the log once a superuser gave it another access method.
CREATE TABLE t (i int);
SELECT unit_tests.snapshot('am', ARRAY['public']) AS rows_recorded;
ALTER TABLE unit_tests._snapshot_changes SET ACCESS METHOD pgut_not_heap;
INSERT INTO t VALUES (1);
\c :here
DROP DATABASE pgut_other_access_method;
