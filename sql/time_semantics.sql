-- Time control behaves like a setting: transactions, savepoints, RESET, DISCARD, SET clauses.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- a freeze in a transaction that rolls back is undone; a committed one survives
BEGIN;
SELECT unit_tests.freeze('2000-01-01 00:00:00+00');
SELECT now();
ROLLBACK;
SELECT mode FROM unit_tests.time_status();
SELECT now() > '2025-01-01' AS real, 'now'::timestamptz > '2025-01-01' AS real_literal;
BEGIN;
SELECT unit_tests.freeze('2000-01-01 00:00:00+00');
COMMIT;
SELECT now();

-- savepoints
BEGIN;
SAVEPOINT a;
SELECT unit_tests.freeze('2001-01-01 00:00:00+00');
SAVEPOINT b;
SELECT unit_tests.advance('1 day');
SELECT now();
ROLLBACK TO SAVEPOINT b;
SELECT now(), 'now'::timestamptz AS literal;
ROLLBACK TO SAVEPOINT a;
SELECT now(), 'now'::timestamptz AS literal;
RELEASE SAVEPOINT a;
SAVEPOINT c;
SELECT unit_tests.unfreeze();
ROLLBACK TO c;
SELECT now();
COMMIT;

-- an error in a plpgsql EXCEPTION block rolls back a freeze made in it
DO $$
BEGIN
  BEGIN
    PERFORM unit_tests.freeze('1990-01-01 00:00:00+00');
    RAISE EXCEPTION 'boom';
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'inside: %', now();
  END;
END $$;
SELECT now();

-- SET LOCAL scopes a freeze to the transaction
BEGIN;
SET LOCAL pg_unit_tests.frozen_at = '2002-02-02 00:00:00+00';
SELECT now();
COMMIT;
SELECT now();

-- a function's SET clause scopes a freeze to that call
CREATE FUNCTION in_1999() RETURNS timestamptz LANGUAGE plpgsql
  SET pg_unit_tests.frozen_at = '1999-09-09 09:09:09+00'
  AS $$ BEGIN RETURN now(); END $$;
CREATE FUNCTION in_1999_sql() RETURNS TABLE (n timestamptz, c timestamptz, d date) LANGUAGE sql
  SET pg_unit_tests.frozen_at = '1999-09-09 09:09:09+00'
  AS 'SELECT now(), clock_timestamp(), CURRENT_DATE';
SELECT in_1999(), now();
SELECT * FROM in_1999_sql();
SELECT now();
SELECT unit_tests.unfreeze();
SELECT in_1999(), now() > '2025-01-01' AS real_after_call;

-- RESET ALL and DISCARD ALL return to real time
SELECT unit_tests.freeze('2003-03-03 00:00:00+00');
RESET ALL;
SET timezone = 'UTC';
SELECT mode FROM unit_tests.time_status();
SELECT now() > '2025-01-01' AS real;
SELECT unit_tests.travel('2004-04-04 00:00:00+00') IS NOT NULL AS travelled;
DISCARD ALL;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT mode FROM unit_tests.time_status();

-- a new connection starts with real time; ALTER ROLE ... SET and connection options (PGOPTIONS)
-- start it frozen
SELECT current_user AS me \gset
SELECT unit_tests.freeze('2005-05-05 00:00:00+00');
\c
SELECT mode FROM unit_tests.time_status();
CREATE ROLE frozen_role LOGIN SUPERUSER;
ALTER ROLE frozen_role SET pg_unit_tests.frozen_at = '2006-06-06 00:00:00+00';
\c - frozen_role
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT now(), 'now'::timestamptz AS literal, CURRENT_DATE;
\c - :me
DROP ROLE frozen_role;
ALTER DATABASE :"DBNAME" SET pg_unit_tests.time_offset = '-1 day';
\c
SELECT mode, time_offset = '-1 day' AS one_day_back FROM unit_tests.time_status();
ALTER DATABASE :"DBNAME" RESET pg_unit_tests.time_offset;
\c
DROP FUNCTION in_1999, in_1999_sql;
\set conninfo 'dbname=' :DBNAME ' options=-cpg_unit_tests.frozen_at=2007-07-07T07:07:07Z'
\c :conninfo
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT now(), 'now'::timestamptz AS literal, current_setting('pg_unit_tests.frozen_at');
-- RESET returns to the connection's value
SELECT unit_tests.unfreeze();
RESET pg_unit_tests.frozen_at;
SELECT now();
