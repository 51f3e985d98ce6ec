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
