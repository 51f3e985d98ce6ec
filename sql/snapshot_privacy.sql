-- Data snapshots are private to the role that took them: names are per role, and no role learns
-- another's snapshot names, owners, tables or which rows of them changed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_unit_tests;
RESET client_min_messages;
\set VERBOSITY terse
CREATE ROLE pgut_alice;
CREATE ROLE pgut_bob;
CREATE SCHEMA alice AUTHORIZATION pgut_alice;
CREATE SCHEMA bob AUTHORIZATION pgut_bob;
GRANT SET ON PARAMETER session_replication_role TO pgut_alice, pgut_bob;
CREATE FUNCTION pg_temp.alice_table() RETURNS oid LANGUAGE sql
  RETURN (SELECT c.oid FROM pg_class AS c WHERE c.relname = 't' AND c.relnamespace = 'alice'::regnamespace);

SET ROLE pgut_alice;
CREATE TABLE alice.t (i int PRIMARY KEY, secret text);
INSERT INTO alice.t SELECT g, 'secret ' || g FROM generate_series(1, 10) AS g;
SELECT unit_tests.snapshot('fixture', ARRAY['alice']);
UPDATE alice.t SET secret = 'changed' WHERE i = 3;
RESET ROLE;
-- A role whose name needs quotes is itself, not the role its name would fold to: "Pgut_Alice"
-- sees nothing of pgut_alice's snapshots, and "pgut carol" has snapshots of its own.
CREATE ROLE "Pgut_Alice";
CREATE ROLE "pgut carol";
CREATE SCHEMA carol AUTHORIZATION "pgut carol";
SET ROLE "Pgut_Alice";
SELECT count(*) AS snapshots_it_sees FROM unit_tests.snapshots();
SELECT count(*) AS rows_it_sees FROM unit_tests._snapshot_rows;
SELECT unit_tests.drop_snapshot('fixture');
RESET ROLE;
SET ROLE "pgut carol";
CREATE TABLE carol.t (i int);
INSERT INTO carol.t VALUES (1);
SELECT unit_tests.snapshot('fixture', ARRAY['carol']) AS rows_recorded;
SELECT name, owner FROM unit_tests.snapshots();
SELECT unit_tests.drop_snapshot('fixture');
RESET ROLE;
DROP SCHEMA carol CASCADE;
DROP ROLE "Pgut_Alice";
DROP ROLE "pgut carol";

SET ROLE pgut_bob;
CREATE TABLE bob.t (i int);
INSERT INTO bob.t VALUES (1);
-- The same name is free for Bob: his own.
SELECT unit_tests.snapshot('fixture', ARRAY['bob']);
SELECT name, owner FROM unit_tests.snapshots();
-- Nothing of Alice's snapshot: not its name or owner, nor its table, rows, or logged changes.
SELECT count(*) AS others_snapshots FROM unit_tests._snapshots WHERE owner <> 'pgut_bob'::regrole;
SELECT count(*) AS others_tables FROM unit_tests._snapshot_relations WHERE relid = pg_temp.alice_table();
SELECT count(*) AS others_rows FROM unit_tests._snapshot_rows WHERE relid = pg_temp.alice_table();
SELECT count(*) AS others_changes FROM unit_tests._snapshot_changes WHERE relid = pg_temp.alice_table();
SELECT count(*) AS others_private_tables FROM generate_series(1, 100) AS i
 WHERE unit_tests._snapshot_private(i) IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM unit_tests._snapshots AS s WHERE s.id = i);
SELECT unit_tests._snapshot_prune(ARRAY[pg_temp.alice_table()]) AS prune_says_nothing;
SELECT unit_tests.restore('fixture') AS bobs_own_restored;
-- Nor can he make Alice's table look tracked, or a snapshot of his look like hers.
INSERT INTO unit_tests._snapshot_relations (snapshot, relid, kind, relname)
SELECT s.id, pg_temp.alice_table(), 'r', 'alice.t' FROM unit_tests._snapshots AS s;
INSERT INTO unit_tests._snapshots (name, owner, taken_at, schemas)
VALUES ('fake', 'pgut_alice'::regrole, now(), '{}');
-- Not as a sequence either (snapshot() records sequences it does not own): a "sequence" row
-- naming her table would show him the table's logged changes, and make her table look tracked.
INSERT INTO unit_tests._snapshot_relations (snapshot, relid, kind, relname)
SELECT s.id, pg_temp.alice_table(), 'S', 'alice.t' FROM unit_tests._snapshots AS s;
UPDATE unit_tests._snapshot_relations SET relid = pg_temp.alice_table(), kind = 'S';
SELECT count(*) AS others_changes FROM unit_tests._snapshot_changes WHERE relid = pg_temp.alice_table();
RESET ROLE;

-- A superuser uses its own snapshots too (it can read the storage tables, as any table).
SELECT count(*) AS superusers_snapshots FROM unit_tests.snapshots();
SELECT unit_tests.restore('fixture');
SELECT unit_tests.drop_snapshot('fixture');
SELECT count(*) AS stored_snapshots FROM unit_tests._snapshots;
-- A superuser's snapshot of Alice's table, once it vouches for her code (writing her table runs her
-- triggers, rules and constraints with the writer's privileges; see the end): Alice sees that her
-- table is tracked by another snapshot (restore() must then log its writes), not whose or by which
-- name.
GRANT pgut_alice TO CURRENT_USER;
SELECT unit_tests.snapshot('over alice', ARRAY['alice']);
SET ROLE pgut_alice;
SELECT count(*) AS snapshots_of_her_table, count(*) FILTER (WHERE r.snapshot IN (SELECT id FROM unit_tests._snapshots)) AS hers
  FROM unit_tests._snapshot_relations AS r WHERE r.relid = 'alice.t'::regclass;
SELECT count(*) AS names_she_sees FROM unit_tests._snapshots;
SELECT unit_tests.restore('fixture') AS tables_rewritten;
SELECT * FROM alice.t WHERE i = 3;
SELECT unit_tests.drop_snapshot('fixture');
-- (the trigger stays: the superuser's snapshot still tracks the table)
SELECT count(*) AS tracking_triggers FROM pg_trigger WHERE tgrelid = 'alice.t'::regclass;
RESET ROLE;
-- The superuser's snapshot saw Alice's restore as a write.
SELECT unit_tests.restore('over alice') AS tables_rewritten;
SELECT unit_tests.drop_snapshot('over alice');
SELECT count(*) AS tracking_triggers FROM pg_trigger WHERE tgrelid = 'alice.t'::regclass;

SET ROLE pgut_bob;
SELECT unit_tests.drop_snapshot('fixture');
RESET ROLE;

-- A superuser writing another role's table would run that role's code with its own privileges:
-- restore() writes with session_replication_role = replica, but a trigger or rule the owner enabled
-- ALWAYS still fires, and constraints are checked. So a superuser's snapshot covers only the tables
-- of roles it is a member of (granted, not by being superuser), and restore() checks again.
SET ROLE pgut_bob;
CREATE TABLE bob.loot (i int);
INSERT INTO bob.loot VALUES (1);
CREATE FUNCTION bob.as_the_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'bob''s trigger ran as %', current_user;
END
$$;
CREATE TRIGGER as_the_writer AFTER INSERT ON bob.loot FOR EACH ROW EXECUTE FUNCTION bob.as_the_writer();
ALTER TABLE bob.loot ENABLE ALWAYS TRIGGER as_the_writer;
RESET ROLE;
SELECT unit_tests.snapshot('over bob', ARRAY['bob']);
-- A table that was the superuser's when the snapshot was taken, and is Bob's now.
CREATE SCHEMA given;
CREATE TABLE given.t (i int);
INSERT INTO given.t VALUES (1);
SELECT unit_tests.snapshot('given away', ARRAY['given']) AS rows_recorded;
ALTER TABLE given.t OWNER TO pgut_bob;
GRANT USAGE ON SCHEMA given TO pgut_bob;
SET ROLE pgut_bob;
CREATE TRIGGER as_the_writer AFTER INSERT ON given.t FOR EACH ROW EXECUTE FUNCTION bob.as_the_writer();
ALTER TABLE given.t ENABLE ALWAYS TRIGGER as_the_writer;
DELETE FROM given.t;
RESET ROLE;
SELECT unit_tests.restore('given away');
SELECT count(*) AS rows_left_as_bob_left_them FROM given.t;
SELECT unit_tests.drop_snapshot('given away');
DROP SCHEMA given CASCADE;
DROP SCHEMA alice CASCADE;
DROP SCHEMA bob CASCADE;
REVOKE SET ON PARAMETER session_replication_role FROM pgut_alice, pgut_bob;
DROP ROLE pgut_alice;
DROP ROLE pgut_bob;
