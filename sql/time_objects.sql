-- Time control reaches every place a clock is read: defaults, COPY, triggers, views, constraints,
-- functions whatever their search_path, procedures that COMMIT, prepared statements, parallel
-- workers, JIT-compiled plans.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- objects created while time is real
CREATE TABLE events (
  id int PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  at_sql timestamptz DEFAULT CURRENT_TIMESTAMP,
  on_day date DEFAULT CURRENT_DATE,
  clock timestamptz DEFAULT clock_timestamp(),
  stmt timestamptz DEFAULT statement_timestamp(),
  qualified timestamptz DEFAULT pg_catalog.now(),
  touched timestamptz,
  CHECK (at <= now())
);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.touched := now();
  RETURN NEW;
END $$;
CREATE TRIGGER events_touch BEFORE INSERT OR UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW v_now AS
  SELECT now() AS now, CURRENT_TIMESTAMP AS ct, LOCALTIMESTAMP AS lt, CURRENT_DATE AS d,
         clock_timestamp() AS clock;
CREATE FUNCTION f_sql() RETURNS timestamptz LANGUAGE sql SET search_path = pg_temp
  AS 'SELECT now()';
CREATE FUNCTION f_plpgsql() RETURNS timestamptz LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $$ BEGIN RETURN now(); END $$;
CREATE FUNCTION f_plpgsql_clock() RETURNS timestamptz LANGUAGE plpgsql
  SET search_path = '' AS $$ BEGIN RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION f_atomic() RETURNS timestamptz LANGUAGE sql
  BEGIN ATOMIC SELECT CURRENT_TIMESTAMP; END;
PREPARE before_freeze AS SELECT now(), clock_timestamp(), CURRENT_DATE;
PREPARE insert_before_freeze(int) AS INSERT INTO events (id) VALUES ($1);

SELECT unit_tests.freeze('2011-11-11 11:11:11+00');

INSERT INTO events (id) VALUES (1);
INSERT INTO events (id, at) VALUES (2, 'now');
EXECUTE insert_before_freeze(4);
INSERT INTO events (id) SELECT 5 WHERE CURRENT_DATE = '2011-11-11';
UPDATE events SET touched = NULL WHERE id = 1;
SELECT * FROM events ORDER BY id;
-- COPY FROM: now(), clock_timestamp() ... defaults and 'now' in the data obey; the defaults written
-- CURRENT_TIMESTAMP and CURRENT_DATE are prepared by COPY without the planner and read the real
-- clock (a known limit, see README)
COPY events (id, touched) FROM stdin;
3	now
\.
SELECT id, at, at_sql > '2025-01-01' AS at_sql_real, on_day > '2025-01-01' AS on_day_real, clock,
       stmt, qualified, touched
  FROM events WHERE id = 3;

-- the check constraint reads the frozen clock: a row "from the future" is rejected
INSERT INTO events (id, at) VALUES (6, '2011-11-11 11:11:12+00');

SELECT * FROM v_now;
SELECT f_sql(), f_plpgsql(), f_plpgsql_clock(), f_atomic();
EXECUTE before_freeze;

-- what the planner adds itself: SQL functions it inlines, default arguments, partition pruning
CREATE FUNCTION f_today() RETURNS date LANGUAGE sql STABLE RETURN CURRENT_DATE;
CREATE FUNCTION f_today_text() RETURNS date LANGUAGE sql STABLE AS 'SELECT CURRENT_DATE';
CREATE FUNCTION f_default(d date DEFAULT CURRENT_DATE, t timestamptz DEFAULT LOCALTIMESTAMP(0))
  RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN d || ' ' || t; END $$;
SELECT f_today(), f_today_text(), f_default(), age('2011-01-01'::timestamptz);
EXPLAIN (COSTS OFF, VERBOSE) SELECT f_today(), CURRENT_TIMESTAMP(2), LOCALTIME;
CREATE TABLE by_day (d date, n int) PARTITION BY RANGE (d);
CREATE TABLE by_day_2011 PARTITION OF by_day FOR VALUES FROM ('2011-01-01') TO ('2012-01-01');
CREATE TABLE by_day_later PARTITION OF by_day FOR VALUES FROM ('2012-01-01') TO (MAXVALUE);
INSERT INTO by_day VALUES ('2011-11-11', 1), (CURRENT_DATE, 2), (clock_timestamp() + '1 year', 3);
SET plan_cache_mode = force_generic_plan;
PREPARE today_rows AS SELECT * FROM by_day WHERE d = CURRENT_DATE;
EXPLAIN (COSTS OFF) EXECUTE today_rows;
EXECUTE today_rows;
PREPARE today_rows_fn AS SELECT * FROM by_day WHERE d = f_today();
EXECUTE today_rows_fn;
RESET plan_cache_mode;
DEALLOCATE today_rows;
DEALLOCATE today_rows_fn;
DROP TABLE by_day;
-- CALL evaluates its arguments without a plan
CREATE PROCEDURE show_day(d date DEFAULT CURRENT_DATE, t timestamp DEFAULT LOCALTIMESTAMP)
  LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'show_day: % %', d, t; END $$;
CALL show_day();
CALL show_day(CURRENT_DATE - 1, LOCALTIMESTAMP(0));
DO $$ BEGIN CALL show_day(CURRENT_DATE + 1); END $$;
DROP PROCEDURE show_day;
DROP FUNCTION f_today, f_today_text, f_default;

-- known limits: expressions PostgreSQL prepares from the catalogs without the planner read the
-- real clock when they use the keywords: a CHECK constraint, a domain constraint, a trigger's WHEN
-- condition, a default added by ALTER TABLE. Written with now(), the same expressions obey.
CREATE TABLE limits (id int, d date CHECK (d <= CURRENT_DATE));
INSERT INTO limits VALUES (1, '2020-01-01');
CREATE TABLE limits_now (id int, d date CHECK (d <= now()::date));
INSERT INTO limits_now VALUES (1, '2020-01-01');
CREATE DOMAIN past_date AS date CHECK (VALUE <= CURRENT_DATE);
SELECT '2020-01-01'::past_date AS accepted_by_the_real_clock;
CREATE DOMAIN past_date_now AS date CHECK (VALUE <= now()::date);
SELECT '2020-01-01'::past_date_now;
CREATE FUNCTION mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE '% fired for %', TG_NAME, NEW.d; RETURN NEW; END $$;
CREATE TRIGGER recent BEFORE INSERT ON limits FOR EACH ROW
  WHEN (NEW.d > CURRENT_DATE - 30) EXECUTE FUNCTION mark();
CREATE TRIGGER recent_now BEFORE INSERT ON limits FOR EACH ROW
  WHEN (NEW.d > now()::date - 30) EXECUTE FUNCTION mark();
INSERT INTO limits VALUES (2, '2011-11-01');
ALTER TABLE limits ADD COLUMN added date DEFAULT CURRENT_DATE,
  ADD COLUMN added_now date DEFAULT now();
SELECT id, added > '2025-01-01' AS added_real, added_now FROM limits ORDER BY id;
ALTER TABLE limits ALTER COLUMN added TYPE date USING CURRENT_DATE,
  ALTER COLUMN added_now TYPE date USING now()::date;
SELECT id, added > '2025-01-01' AS using_real, added_now AS using_now FROM limits ORDER BY id;
DROP TABLE limits, limits_now;
DROP DOMAIN past_date, past_date_now;
DROP FUNCTION mark;

-- a procedure that commits: every transaction it starts is frozen too
CREATE TABLE log (n int, at timestamptz DEFAULT now(), ct timestamptz DEFAULT CURRENT_TIMESTAMP);
CREATE PROCEDURE work() LANGUAGE plpgsql AS $$
DECLARE
  t timestamptz;
BEGIN
  INSERT INTO log (n) VALUES (1);
  COMMIT;
  t := now();
  RAISE NOTICE 'after commit: now() = %, statement_timestamp() = %', t, statement_timestamp();
  COMMIT;
  t := CURRENT_TIMESTAMP;
  RAISE NOTICE 'after commit: CURRENT_TIMESTAMP = %, CURRENT_DATE = %', t, CURRENT_DATE;
  INSERT INTO log (n) VALUES (2);
  COMMIT;
  INSERT INTO log (n) VALUES (3);
  ROLLBACK;
  RAISE NOTICE 'after rollback: clock_timestamp() = %', clock_timestamp();
  INSERT INTO log (n) VALUES (4);
END $$;
CALL work();
-- again, with every expression's plan cached from the first call
CALL work();
SELECT * FROM log ORDER BY n;

-- a DO block, and a cursor fetched in pieces
DO $$ BEGIN RAISE NOTICE 'DO: % %', now(), CURRENT_DATE; END $$;
BEGIN;
DECLARE c CURSOR FOR SELECT g, now(), clock_timestamp() FROM generate_series(1, 3) g;
FETCH 1 FROM c;
FETCH 2 FROM c;
COMMIT;

-- parallel workers get the frozen clock from the leader (and the settings for clock_timestamp)
CREATE TABLE big AS SELECT g FROM generate_series(1, 20000) g;
ANALYZE big;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
-- force_parallel_mode was renamed debug_parallel_query in PostgreSQL 16
SELECT current_setting('server_version_num')::int >= 160000 AS pg16 \gset
\if :pg16
SET debug_parallel_query = on;
\else
SET force_parallel_mode = on;
\endif
EXPLAIN (COSTS OFF) SELECT count(*) FROM big WHERE now() = '2011-11-11 11:11:11+00';
SELECT count(*) FILTER (WHERE now() = '2011-11-11 11:11:11+00') AS now_frozen,
       count(*) FILTER (WHERE clock_timestamp() = '2011-11-11 11:11:11+00') AS clock_frozen,
       count(*) FILTER (WHERE CURRENT_DATE = '2011-11-11') AS date_frozen
  FROM big;
SELECT DISTINCT timeofday() FROM big;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
\if :pg16
RESET debug_parallel_query;
\else
RESET force_parallel_mode;
\endif

-- JIT-compiled expressions call the same clocks (Debian's PostgreSQL ships llvmjit; where JIT is
-- not available the same queries run interpreted)
CREATE FUNCTION jit_functions(query text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || query INTO plan;
  RETURN coalesce((plan -> 0 -> 'JIT' ->> 'Functions')::int, 0);
END $$;
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = 0;
SET jit_optimize_above_cost = 0;
SELECT (jit_functions($$SELECT count(*) FILTER (WHERE clock_timestamp() = '2011-11-11 11:11:11+00')
                          FROM generate_series(1, 1000)$$) > 0) = pg_jit_available()
         AS compiled_where_available;
SELECT count(*) FILTER (WHERE now() = '2011-11-11 11:11:11+00') AS now_frozen,
       count(*) FILTER (WHERE clock_timestamp() = '2011-11-11 11:11:11+00') AS clock_frozen,
       count(*) FILTER (WHERE timeofday() = 'Fri Nov 11 11:11:11.000000 2011 UTC') AS timeofday_frozen,
       count(*) FILTER (WHERE CURRENT_TIMESTAMP = '2011-11-11 11:11:11+00') AS ct_frozen,
       count(*) FILTER (WHERE w.word::timestamptz = '2011-11-11 11:11:11+00') AS input_frozen
  FROM big, LATERAL (SELECT CASE WHEN big.g > 0 THEN 'now' END) AS w(word);
RESET jit;
RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;

SELECT unit_tests.unfreeze();
-- objects keep no trace of the frozen time
SELECT now() > '2025-01-01' AS real, f_sql() > '2025-01-01' AS f_sql, (SELECT now FROM v_now) > '2025-01-01' AS view;
DROP TABLE events, log, big;
DROP VIEW v_now;
DROP FUNCTION touch, f_sql, f_plpgsql, f_plpgsql_clock, f_atomic, jit_functions;
DROP PROCEDURE work;
DEALLOCATE ALL;
