-- The classic recipe: unit_tests.now() and friends first on search_path.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET search_path = "$user", public;
SELECT unit_tests.shadow_search_path();
SHOW search_path;
SELECT unit_tests.shadow_search_path();
SELECT p.oid::regprocedure AS resolves_to FROM pg_proc p
 WHERE p.oid = 'now'::regproc;
SELECT unit_tests.freeze('2012-12-12 12:12:12+00');
SELECT now(), transaction_timestamp(), statement_timestamp(), clock_timestamp(), timeofday();
SELECT unit_tests.now(), pg_catalog.now();
SELECT unit_tests.unfreeze();
SELECT now() > '2025-01-01' AS real;
RESET search_path;

-- for a role: its default search_path
CREATE ROLE shadowed;
SELECT unit_tests.shadow_search_path('shadowed');
ALTER ROLE shadowed SET search_path = app, "$user";
SELECT unit_tests.shadow_search_path('shadowed');
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'shadowed'::regrole;
DROP ROLE shadowed;

-- A role whose stored search_path was made to end the ALTER ROLE statement and start another (it
-- set it with set_config() and stored it with FROM CURRENT, which keeps the text as it is): when a
-- superuser shadows its path, it stays one (quoted) name, and the role gains nothing.
CREATE ROLE pgut_crafted;
SET ROLE pgut_crafted;
SELECT set_config('search_path', 'x;ALTER/**/ROLE/**/pgut_crafted/**/SUPERUSER;--', false);
ALTER ROLE pgut_crafted SET search_path FROM CURRENT;
RESET ROLE;
RESET search_path;
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'pgut_crafted'::regrole;
SELECT unit_tests.shadow_search_path('pgut_crafted');
SELECT rolsuper FROM pg_roles WHERE rolname = 'pgut_crafted';
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'pgut_crafted'::regrole;
DROP ROLE pgut_crafted;

-- Names as PostgreSQL reads them: quoted ones keep their case, commas, spaces and quotes; others
-- are folded to lower case; unit_tests and pg_catalog are not repeated.
SET search_path = "A, b", public, "with ""quote""", Mixed, "unit_tests", PG_CATALOG;
SELECT unit_tests.shadow_search_path();
SHOW search_path;
RESET search_path;

-- With unit_tests first, an unqualified CREATE would land in unit_tests (for a superuser): refused,
-- with the fix in the hint. Qualified names, and CREATE EXTENSION's own objects, go where they say.
\set VERBOSITY default
SELECT unit_tests.shadow_search_path() IS NOT NULL AS shadowed;
CREATE TABLE landed (i int);
CREATE FUNCTION helper() RETURNS int LANGUAGE sql RETURN 1;
CREATE TABLE public.landed (i int);
SELECT to_regclass('public.landed') AS created;
DROP TABLE public.landed;
-- Another extension's script is not ours: a relocatable extension created without a schema would
-- be installed in the first schema of the path, unit_tests, where nobody looks for it.
CREATE EXTENSION lo;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'lo';
CREATE EXTENSION lo SCHEMA public;
SELECT extnamespace::regnamespace AS lo_schema FROM pg_extension WHERE extname = 'lo';
DROP EXTENSION lo;
\set VERBOSITY terse
RESET search_path;

-- The guard costs DDL nothing it does not need: commands that create no object never call it (its
-- event trigger lists the creating commands), and those that do return at once while unit_tests is
-- not on the search_path (an unqualified name cannot land there then; a name qualified with
-- unit_tests is taken as meant). track_functions counts the calls (within one transaction: the
-- counts of earlier ones may be flushed at any time).
SET track_functions = 'all';
CREATE TABLE public.guarded (i int);
BEGIN;
SELECT coalesce(sum(calls), 0) AS calls_before FROM pg_stat_xact_user_functions
 WHERE funcid = 'unit_tests._refuse_foreign_objects'::regproc \gset
ALTER TABLE public.guarded ADD COLUMN j int;
COMMENT ON TABLE public.guarded IS 'guarded';
GRANT SELECT ON public.guarded TO PUBLIC;
CREATE TEMP TABLE scratch (i int);
DROP TABLE scratch;
TRUNCATE public.guarded;
DROP TABLE public.guarded;
-- one call: CREATE TEMP TABLE
SELECT coalesce(sum(calls), 0) - :calls_before AS guard_calls FROM pg_stat_xact_user_functions
 WHERE funcid = 'unit_tests._refuse_foreign_objects'::regproc;
COMMIT;
CREATE TABLE unit_tests.meant (i int);
DROP TABLE unit_tests.meant;
-- While unit_tests is on the path (shadowed, or in a function's SET clause), every creating
-- command is checked: temporary objects pass, anything landing in unit_tests is refused.
SELECT unit_tests.shadow_search_path() IS NOT NULL AS shadowed;
CREATE TEMP TABLE scratch (i int);
CREATE TEMP VIEW scratch_view AS SELECT 1 AS one;
CREATE TEMP SEQUENCE scratch_seq;
CREATE TEMP TABLE scratch_copy AS SELECT * FROM scratch;
DROP TABLE scratch, scratch_copy;
DROP VIEW scratch_view;
DROP SEQUENCE scratch_seq;
CREATE TABLE landed AS SELECT 1 AS one;
SELECT 1 AS one INTO landed;
CREATE VIEW landed AS SELECT 1 AS one;
CREATE SCHEMA pgut_elsewhere CREATE TABLE t (i int);
DROP SCHEMA pgut_elsewhere CASCADE;
RESET search_path;
CREATE FUNCTION public.make_landed() RETURNS void LANGUAGE plpgsql SET search_path = unit_tests, public
  AS $$ BEGIN CREATE TABLE landed (i int); END $$;
SELECT public.make_landed();
DROP FUNCTION public.make_landed();
RESET track_functions;
