-- Time control: every SQL-visible clock obeys, at once, also inside the current transaction.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT unit_tests.freeze('2024-03-10 23:59:58.123456+00');

SELECT now(), transaction_timestamp(), statement_timestamp(), clock_timestamp();
SELECT timeofday();
SELECT CURRENT_TIMESTAMP, CURRENT_TIMESTAMP(0), CURRENT_TIMESTAMP(3);
SELECT LOCALTIMESTAMP, LOCALTIMESTAMP(1);
SELECT CURRENT_DATE, CURRENT_TIME, CURRENT_TIME(2), LOCALTIME, LOCALTIME(0);
SELECT pg_catalog.now(), pg_catalog.clock_timestamp(), pg_catalog.timeofday();
SELECT age('2000-03-10 23:59:58.123456+00'::timestamptz);
SELECT age('2000-01-01'::timestamp);

-- date/time literals, evaluated during parse analysis: each statement its own transaction
SELECT 'now'::timestamptz;
SELECT 'now'::timestamp, 'now'::date, 'now'::time;
SELECT 'today'::date;
SELECT 'tomorrow'::timestamptz;
SELECT 'yesterday'::date;
SELECT TIMESTAMPTZ 'today', DATE 'tomorrow';
SELECT 'NOW'::timestamptz = now() AS literal_matches_now;
SELECT E'  now '::timestamptz, 'tomorrow'::date - 'yesterday'::date AS days, 'epoch'::timestamptz;
SELECT CAST('today' AS date), '2024-03-10 12:00'::timestamptz < 'now' AS past;

-- the session's time zone applies to the frozen instant
SET timezone = 'Asia/Tokyo';
SELECT now(), CURRENT_DATE, LOCALTIME, 'today'::date, timeofday();
SET timezone = 'UTC';

-- takes effect at once inside a transaction, and again when unfrozen
BEGIN;
SELECT now() = '2024-03-10 23:59:58.123456+00' AS frozen;
SELECT unit_tests.freeze('1999-12-31 23:59:59+00');
SELECT now(), statement_timestamp(), clock_timestamp(), 'now'::timestamptz, CURRENT_DATE;
SELECT unit_tests.unfreeze();
SELECT now() > '2025-01-01' AS real_now, clock_timestamp() > '2025-01-01' AS real_clock,
       'now'::timestamptz > '2025-01-01' AS real_literal;
SELECT unit_tests.freeze('2024-03-10 23:59:58.123456+00');
SELECT now();
COMMIT;

-- several statements in one message (an implicit transaction block)
SELECT unit_tests.freeze('2010-10-10 10:10:10+00') \; SELECT now(), 'now'::timestamptz \; SELECT CURRENT_DATE;

-- clock_timestamp() advances with advance(); statement_timestamp() too
SELECT unit_tests.advance('00:00:01');
SELECT clock_timestamp(), statement_timestamp(), timeofday();

-- travelled: the clocks run
SELECT unit_tests.travel('2040-01-01 00:00:00+00') IS NOT NULL AS travelled;
SELECT clock_timestamp() >= now() AND clock_timestamp() - now() < '1 minute' AS clock_runs,
       statement_timestamp() >= now() AS statement_after_transaction,
       'now'::timestamptz - '2040-01-01' BETWEEN '0' AND '1 minute' AS literal,
       CURRENT_DATE = '2040-01-01' AS current_date,
       substr(timeofday(), 1, 10) = 'Sun Jan 01' AS timeofday;

-- timeofday() at instants before 2000 (negative in PostgreSQL's epoch) with fractional seconds, and
-- at the end of the range
SELECT unit_tests.freeze('1999-12-31 23:59:59.75+00');
SELECT timeofday();
SELECT unit_tests.freeze('1969-07-20 20:17:40.000001+00');
SELECT timeofday();
SELECT unit_tests.freeze('294276-12-31 23:59:59.999999+00');
SELECT timeofday(), now();

-- a travelled clock stops at the end of PostgreSQL's range instead of leaving it
SELECT unit_tests.travel('294276-12-31 23:59:59.999+00') IS NOT NULL AS travelled;
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS stopped, statement_timestamp() AS statement, timeofday() AS text;
COPY (SELECT clock_timestamp(), now()) TO stdout;
SELECT clock_timestamp()::text::timestamptz = clock_timestamp() AS reads_back;

SELECT unit_tests.unfreeze();
