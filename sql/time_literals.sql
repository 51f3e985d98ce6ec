-- 'now', 'today', 'tomorrow', 'yesterday' read the mocked clock wherever PostgreSQL turns text into
-- a date or time, whatever the query text around them looks like: nothing is parsed twice.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT unit_tests.freeze('2011-11-11 11:11:11.5+00');

-- each statement is the first of its transaction: quotes the query text scanners trip over
SELECT $$now$$::timestamptz AS dollar_quoted, $x$today$x$::date AS tagged_dollar;
SELECT /* it's */ 'now'::timestamptz AS after_comment;
SELECT 1 AS "o'clock", 'now'::timestamptz AS after_quoted_identifier;
SELECT E'it\'s' AS escaped, 'now'::timestamptz AS after_escape_string;
-- line comment with an apostrophe
SELECT 'now'::timestamptz AS after_line_comment -- don't
;
SELECT U&'now'::timestamptz AS unicode_escape, 'NOW'::timestamptz AS upper_case,
       '  now  '::timestamptz AS padded;

-- a parse-time message is printed once (the statement is parsed once)
SELECT 'now'::timestamptz AS aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;
SELECT 'unknown' AS bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb;

-- a statement that changes standard_conforming_strings before the next one in the same message
-- runs as the server parsed it (three columns, no warning about the backslash)
CREATE TABLE victim (id int);
INSERT INTO victim VALUES (1);
SET standard_conforming_strings = on;
SET standard_conforming_strings = off \; COMMIT \; SELECT 'now'::date AS d, 'a\' AS x, '; DELETE FROM victim; --' AS y;
RESET standard_conforming_strings;
SELECT count(*) AS victims FROM victim;
DROP TABLE victim;

-- every type and form of input
SELECT 'now'::timestamp AS ts, 'now'::date AS d, 'now'::time AS t, 'now'::timetz AS ttz,
       'now'::timestamp(0) AS ts0, 'now'::timestamptz(1) AS tstz1, 'now'::time(0) AS t0;
SELECT 'today'::timestamptz AS today, 'tomorrow'::date AS tomorrow, 'yesterday'::timestamp AS yesterday,
       'tomorrow 10:30'::timestamptz AS tomorrow_at, '10:30 yesterday'::timestamp AS at_yesterday,
       'today America/New_York'::timestamptz AS today_in_ny, 'today allballs'::timestamptz AS allballs;
SELECT '{now,today}'::timestamptz[] AS arr, '[yesterday,tomorrow)'::daterange AS range,
       ROW('now'::timestamptz) AS record;
CREATE DOMAIN at_time AS timestamptz;
SELECT 'now'::at_time AS domain_value;
DROP DOMAIN at_time;
-- cast through text at run time (CoerceViaIO), and a value read from a table
SELECT w::timestamptz AS via_text FROM (VALUES ('now'), ('tomorrow')) AS v(w);
CREATE TEMP TABLE words (w text);
INSERT INTO words VALUES ('now'), ('today');
SELECT w, w::date AS day FROM words;
-- COPY FROM data
CREATE TEMP TABLE stamps (at timestamptz, d date);
COPY stamps FROM stdin;
now	today
yesterday	tomorrow
\.
SELECT * FROM stamps;
-- a column default written as a literal is evaluated when the table is created (stock behaviour)
CREATE TEMP TABLE made (id int, at timestamptz DEFAULT 'now');
SELECT unit_tests.advance('1 day');
INSERT INTO made (id) VALUES (1);
SELECT at FROM made;
SELECT unit_tests.advance('-1 day');

-- the session's time zone applies
SET timezone = 'Asia/Tokyo';
SELECT 'now'::timestamptz AS tokyo, 'now'::timestamp AS local, 'today'::date AS local_today,
       'now'::timetz AS local_time;
SET timezone = 'UTC';

-- other special values are untouched; bad input keeps its own message
SELECT 'epoch'::timestamptz AS epoch, 'infinity'::timestamptz AS inf, 'allballs'::time AS allballs;
SELECT 'now 10:00'::timestamptz;
SELECT 'today'::time;
SELECT 'tomorrow tomorrow'::date;
SELECT 'noww'::timestamptz;

-- a travelled clock runs: 'now' is the mocked transaction time
SELECT unit_tests.travel('2040-02-29 12:00:00+00') IS NOT NULL AS travelled;
SELECT 'now'::timestamptz = now() AS literal_is_now, 'today'::date AS today;
BEGIN;
SELECT unit_tests.travel('2040-02-29 12:00:00+00') IS NOT NULL AS travelled;
SELECT 'now'::timestamptz AS exact;
COMMIT;

-- real time again: the stock functions
SELECT unit_tests.unfreeze();
SELECT 'now'::timestamptz > '2025-01-01' AS real_now, 'today'::date > '2025-01-01' AS real_today;
