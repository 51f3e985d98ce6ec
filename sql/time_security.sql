-- Only superusers, and roles allowed with unit_tests.grant_time_control(), control time.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT current_user AS me \gset
CREATE ROLE clock_user LOGIN;
SET ROLE clock_user;
SELECT unit_tests.freeze('2000-01-01 00:00:00+00');
SELECT unit_tests.travel('2000-01-01 00:00:00+00');
SELECT unit_tests.advance('1 day');
-- leaving one's own clock needs no privilege
SELECT unit_tests.unfreeze();
SET pg_unit_tests.frozen_at = '2000-01-01 00:00:00+00';
SET pg_unit_tests.time_offset = '1 day';
SELECT set_config('pg_unit_tests.frozen_at', '2000-01-01 00:00:00+00', false);
SELECT unit_tests.grant_time_control('clock_user');
-- reading the state needs no privilege
SELECT * FROM unit_tests.time_status();
RESET ROLE;

-- nor may a role put a freeze on itself, or in a function that it owns
CREATE SCHEMA clock_user AUTHORIZATION clock_user;
SET ROLE clock_user;
ALTER ROLE clock_user SET pg_unit_tests.frozen_at = '2000-01-01 00:00:00+00';
CREATE FUNCTION clock_user.sneaky() RETURNS timestamptz LANGUAGE sql
  SET pg_unit_tests.frozen_at = '2000-01-01 00:00:00+00' AS 'SELECT now()';
RESET ROLE;

-- granted
SELECT unit_tests.grant_time_control('clock_user');
SET ROLE clock_user;
SELECT unit_tests.freeze('2000-01-01 00:00:00+00');
SELECT now();
SET pg_unit_tests.time_offset = '1 day';
SET pg_unit_tests.frozen_at = '2000-02-02 00:00:00+00';
SELECT now();
SELECT unit_tests.unfreeze();
SELECT now() > '2025-01-01' AS real;
-- also in a function's SET clause
CREATE FUNCTION clock_user.in_2000() RETURNS timestamptz LANGUAGE sql
  SET pg_unit_tests.frozen_at = '2000-01-01 00:00:00+00' AS 'SELECT now()';
SELECT clock_user.in_2000();
RESET ROLE;

-- revoked
SELECT unit_tests.revoke_time_control('clock_user');
SET ROLE clock_user;
SELECT unit_tests.freeze('2000-01-01 00:00:00+00');
RESET ROLE;
SELECT unit_tests.grant_time_control(NULL);
SET ROLE clock_user;
SELECT clock_user.in_2000();
RESET ROLE;
DROP SCHEMA clock_user CASCADE;
DROP ROLE clock_user;
