-- The clock of a whole database, and of the whole server: set from one session, seen by every
-- session at its next statement. Precedence: the session's own clock, then the database's, then
-- the server's.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT current_user AS me, current_database() AS db \gset

-- the database clock: this session sees it at its next statement, a new session at its first
SELECT unit_tests.freeze('2020-02-02 02:02:02+00', scope => 'database');
SELECT now(), CURRENT_DATE, 'now'::timestamptz AS literal, clock_timestamp();
SELECT mode, frozen_at, source FROM unit_tests.time_status();
\c
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT now(), LOCALTIMESTAMP, source FROM unit_tests.time_status();
SELECT kind, mode, frozen_at, source, changed_by = current_user AS by_me,
       changed_at > '2025-01-01' AS changed_in_real_time
  FROM unit_tests.clocks
 WHERE database = current_database() AND (kind <> 'session' OR pid = pg_backend_pid())
 ORDER BY kind;

-- advance, travel, release
SELECT unit_tests.advance('1 month 1 day', scope => 'database');
SELECT now();
SELECT unit_tests.travel('2030-01-01 00:00:00+00', scope => 'database') AS travelled;
SELECT now() - '2030-01-01 00:00:00+00' BETWEEN '0' AND '1 minute' AS near, source
  FROM unit_tests.time_status();
BEGIN;
SELECT unit_tests.travel('2030-01-01 00:00:00+00', scope => 'database') AS travelled;
SELECT now() = '2030-01-01 00:00:00+00' AS exact_in_this_transaction;
COMMIT;
SELECT unit_tests.unfreeze(scope => 'database');
SELECT now() > '2025-01-01' AS real, mode, source FROM unit_tests.time_status();

-- the caller sees its own change at once, even within one statement
DO $$
BEGIN
  PERFORM unit_tests.freeze('2001-01-01 00:00:00+00', scope => 'database');
  RAISE NOTICE 'in the same statement: %', now();
  PERFORM unit_tests.unfreeze(scope => 'database');
  RAISE NOTICE 'released: %', now() > '2025-01-01';
END $$;

-- not undone by ROLLBACK: other sessions cannot see uncommitted work, but must see the clock
BEGIN;
SELECT unit_tests.freeze('2002-02-02 00:00:00+00', scope => 'database');
ROLLBACK;
SELECT now();

-- precedence: the session's own clock wins; unfreeze() returns the session to the shared clock
SELECT unit_tests.freeze('2003-03-03 00:00:00+00');
SELECT now(), source FROM unit_tests.time_status();
SELECT unit_tests.unfreeze();
SELECT now(), source FROM unit_tests.time_status();
-- an offset of zero in the session: real time whatever the shared clocks say
SET pg_unit_tests.time_offset = '0';
SELECT now() > '2025-01-01' AS real, mode, time_offset, source FROM unit_tests.time_status();
RESET pg_unit_tests.time_offset;
-- the server clock applies where no database clock is set; the database clock wins over it
SELECT unit_tests.freeze('2004-04-04 00:00:00+00', scope => 'server');
SELECT now(), source FROM unit_tests.time_status();
SELECT unit_tests.unfreeze(scope => 'database');
SELECT now(), source FROM unit_tests.time_status();
CREATE DATABASE clock_other;
\c clock_other
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT now() AS other_database_sees_server_clock;
\c :db
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
-- a database setting (ALTER DATABASE ... SET) is below the database clock, above the server's
ALTER DATABASE :"db" SET pg_unit_tests.frozen_at = '2005-05-05 00:00:00+00';
\c
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT now(), source FROM unit_tests.time_status();
SELECT unit_tests.freeze('2006-06-06 00:00:00+00', scope => 'database');
SELECT now(), source FROM unit_tests.time_status();
SELECT unit_tests.unfreeze(scope => 'database');
SELECT now(), source FROM unit_tests.time_status();
ALTER DATABASE :"db" RESET pg_unit_tests.frozen_at;
-- a role setting (ALTER ROLE ... SET) and the connection's options are the session's own
CREATE ROLE clock_role LOGIN SUPERUSER;
ALTER ROLE clock_role SET pg_unit_tests.frozen_at = '2007-07-07 00:00:00+00';
SELECT unit_tests.freeze('2008-08-08 00:00:00+00', scope => 'database');
\c - clock_role
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT now(), source FROM unit_tests.time_status();
\c - :me
DROP ROLE clock_role;
\set conninfo 'dbname=' :db ' options=-cpg_unit_tests.time_offset=-1d'
\c :conninfo
SET timezone = 'UTC';
SET intervalstyle = 'postgres';
SELECT mode, time_offset, source FROM unit_tests.time_status();
-- the clock of another database, by name
\set conninfo 'dbname=' :db
\c :conninfo
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT unit_tests.freeze('2009-09-09 00:00:00+00', scope => 'database', database => 'clock_other');
SELECT now() AS this_database_unchanged;
\c clock_other
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT now() AS other_database;
\c :db
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT kind, CASE database WHEN current_database() THEN 'this one' ELSE database END AS database,
       mode, frozen_at, source
  FROM unit_tests.clocks WHERE kind <> 'session' ORDER BY kind, database;
SELECT unit_tests.unfreeze(scope => 'database', database => 'clock_other');
SELECT unit_tests.unfreeze(scope => 'database');
SELECT unit_tests.unfreeze(scope => 'server');
SELECT now() > '2025-01-01' AS real, source FROM unit_tests.time_status();
-- (sessions that \c closed may still be on their way out: only this one counts)
SELECT count(*) AS clocks_left FROM unit_tests.clocks
 WHERE kind <> 'session' OR pid = pg_backend_pid();

-- bad input: one clear error each
SELECT unit_tests.freeze(now(), scope => 'galaxy');
SELECT unit_tests.freeze(now(), scope => NULL);
SELECT unit_tests.freeze(now(), database => 'clock_other');
SELECT unit_tests.freeze(now(), scope => 'server', database => 'clock_other');
SELECT unit_tests.freeze(now(), scope => 'database', database => 'no_such_database');
SELECT unit_tests.advance('1 day', scope => 'database');
SELECT unit_tests.advance('1 day', scope => 'server');
SELECT unit_tests.unfreeze(scope => 'database');
SELECT unit_tests.freeze('infinity', scope => 'database');
SELECT unit_tests.travel(NULL, scope => 'server');

-- privileges: a role allowed to control time moves the clocks of the databases it may connect
-- to; only superusers move the server's; unit_tests.clocks is for roles that control time
CREATE ROLE clock_user LOGIN;
REVOKE CONNECT ON DATABASE clock_other FROM PUBLIC;
SET ROLE clock_user;
SELECT unit_tests.freeze(now(), scope => 'database');
SELECT * FROM unit_tests.clocks;
RESET ROLE;
SELECT unit_tests.grant_time_control('clock_user');
SET ROLE clock_user;
SELECT unit_tests.freeze('2010-10-10 00:00:00+00', scope => 'database');
SELECT kind, database = current_database() AS this_one, mode, frozen_at, changed_by
  FROM unit_tests.clocks WHERE kind = 'database';
SELECT unit_tests.freeze(now(), scope => 'database', database => 'clock_other');
SELECT unit_tests.freeze(now(), scope => 'server');
SELECT unit_tests.unfreeze(scope => 'database');
-- returning the session to real time is always allowed, also after the privilege is revoked
SELECT unit_tests.freeze('2010-10-10 00:00:00+00');
RESET ROLE;
SELECT unit_tests.revoke_time_control('clock_user');
SET ROLE clock_user;
SELECT now();
SELECT unit_tests.freeze(now());
SELECT unit_tests.unfreeze();
SELECT now() > '2025-01-01' AS real_again;
RESET ROLE;
DROP ROLE clock_user;
DROP DATABASE clock_other;

-- 'now' and its siblings in the settings: the session's current time when set in a session,
-- refused where the setting is applied again later (by every new session, at every reload)
SELECT unit_tests.freeze('2011-11-11 11:11:11+00');
SET pg_unit_tests.frozen_at = 'tomorrow';
SHOW pg_unit_tests.frozen_at;
SET pg_unit_tests.frozen_at = 'now';
SHOW pg_unit_tests.frozen_at;
ALTER ROLE CURRENT_USER SET pg_unit_tests.frozen_at = 'today';
ALTER DATABASE :"db" SET pg_unit_tests.frozen_at = 'now';
CREATE FUNCTION frozen_now() RETURNS timestamptz LANGUAGE sql
  SET pg_unit_tests.frozen_at = 'now' AS 'SELECT now()';
ALTER SYSTEM SET pg_unit_tests.frozen_at = 'now';
SELECT unit_tests.unfreeze();
SET pg_unit_tests.frozen_at = 'today';
SELECT now() = date_trunc('day', now()) AS midnight, now() > '2025-01-01' AS real_day;
RESET pg_unit_tests.frozen_at;
