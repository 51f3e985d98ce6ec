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
