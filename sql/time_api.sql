-- Time control: the SQL API, its settings, and bad input.
CREATE EXTENSION pg_unit_tests;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

SELECT * FROM unit_tests.time_status();
SELECT unit_tests.is_frozen();

-- freeze: time stands still, the setting shows the instant in canonical UTC form
SELECT unit_tests.freeze('2024-02-29 12:34:56.789+02');
SELECT * FROM unit_tests.time_status();
SELECT unit_tests.is_frozen();
SHOW pg_unit_tests.frozen_at;
SELECT now(), clock_timestamp(), statement_timestamp();
SELECT pg_sleep(0.01);
SELECT clock_timestamp() = '2024-02-29 10:34:56.789+00' AS still;

-- advance a frozen clock: calendar arithmetic, like timestamptz + interval
SELECT unit_tests.advance('1 day 2 hours');
SELECT unit_tests.advance('1 month');
SELECT now();
SELECT unit_tests.advance('-1 year');

-- freeze() defaults to the current transaction time (here: the frozen one)
SELECT unit_tests.freeze();
SELECT now();

-- the latest freeze wins
SELECT unit_tests.freeze('2020-01-01 00:00:00+00');
SELECT unit_tests.freeze('2021-01-01 00:00:00+00');
SELECT now();

-- travel: jump, and the clock keeps running from there
SELECT unit_tests.travel('2030-06-01 12:00:00+00');
SELECT mode, frozen_at, time_offset IS NOT NULL AS has_offset FROM unit_tests.time_status();
SELECT now() - '2030-06-01 12:00:00+00' BETWEEN '0' AND '1 minute' AS near_destination;
SELECT pg_sleep(0.01);
SELECT clock_timestamp() > now() AS ticking_within_transaction;
BEGIN;
SELECT unit_tests.travel('2030-06-01 12:00:00+00');
SELECT now() = '2030-06-01 12:00:00+00' AS exact_in_this_transaction;
SELECT unit_tests.advance('2 days') = '2030-06-03 12:00:00+00' AS advanced;
SELECT now() = '2030-06-03 12:00:00+00' AS exact_after_advance;
COMMIT;
SELECT now() - '2030-06-03 12:00:00+00' BETWEEN '0' AND '1 minute' AS still_travelled;

-- freeze while travelled freezes; travel while frozen travels
SELECT unit_tests.freeze('2022-01-01 00:00:00+00');
SELECT mode, frozen_at, time_offset FROM unit_tests.time_status();
SELECT unit_tests.travel('2023-01-01 00:00:00+00') IS NOT NULL AS travelled;
SELECT mode, frozen_at FROM unit_tests.time_status();

-- unfreeze: real time at once
SELECT unit_tests.unfreeze();
SELECT * FROM unit_tests.time_status();
SELECT now() > '2025-01-01' AND now() < '2100-01-01' AS real_time;
SHOW pg_unit_tests.frozen_at;
SHOW pg_unit_tests.time_offset;

-- the settings directly
SET pg_unit_tests.frozen_at = '2019-07-04 09:00:00 America/New_York';
SHOW pg_unit_tests.frozen_at;
SELECT now();
SET pg_unit_tests.frozen_at = 'epoch';
SELECT now();
RESET pg_unit_tests.frozen_at;
SET pg_unit_tests.time_offset = '-3 days 2 hours';
SHOW pg_unit_tests.time_offset;
SELECT mode, time_offset FROM unit_tests.time_status();
SELECT (pg_catalog.now() - transaction_timestamp()) = '0' AS same_clock;
SET pg_unit_tests.time_offset = 'P1DT2H';
SHOW pg_unit_tests.time_offset;
-- frozen_at takes precedence over time_offset
SET pg_unit_tests.frozen_at = '2001-01-01 00:00:00+00';
SELECT mode, now() FROM unit_tests.time_status();
RESET pg_unit_tests.frozen_at;
-- an offset of zero is kept: real time, as this session's own clock (see time_shared)
SET pg_unit_tests.time_offset = '0';
SHOW pg_unit_tests.time_offset;
SELECT mode, time_offset, now() > '2025-01-01' AS real FROM unit_tests.time_status();
RESET pg_unit_tests.time_offset;

-- bad input: one clear error each, nothing changes
SELECT unit_tests.freeze(NULL);
SELECT unit_tests.freeze('infinity');
SELECT unit_tests.freeze('-infinity');
SELECT unit_tests.travel(NULL);
SELECT unit_tests.travel('infinity');
SELECT unit_tests.advance('1 day');
SELECT unit_tests.freeze('2024-01-01 00:00:00+00');
SELECT unit_tests.advance(NULL);
SELECT unit_tests.advance('300000 years');
SELECT unit_tests.advance('-10000 years');
SELECT now();
SELECT unit_tests.freeze('294277-01-01 00:00:00+00');
SET pg_unit_tests.frozen_at = 'infinity';
SET pg_unit_tests.frozen_at = 'yesterday at noon';
SET pg_unit_tests.frozen_at = '294277-01-01 00:00:00+00';
SET pg_unit_tests.frozen_at = '2024-13-45';
SET pg_unit_tests.time_offset = '1 month';
SET pg_unit_tests.time_offset = 'soon';
SET pg_unit_tests.time_offset = '1000000000 days';
SELECT now();
SELECT unit_tests.unfreeze();
