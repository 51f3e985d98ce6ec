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
COPY events (id) FROM stdin;
3
\.
EXECUTE insert_before_freeze(4);
UPDATE events SET touched = NULL WHERE id = 1;
SELECT * FROM events ORDER BY id;

-- the check constraint reads the frozen clock: a row "from the future" is rejected
INSERT INTO events (id, at) VALUES (5, '2011-11-11 11:11:12+00');

SELECT * FROM v_now;
SELECT f_sql(), f_plpgsql(), f_plpgsql_clock(), f_atomic();
EXECUTE before_freeze;

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
SET force_parallel_mode = on;
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
RESET force_parallel_mode;

-- JIT-compiled expressions call the same clocks (Debian's PostgreSQL ships llvmjit)
SELECT pg_jit_available() AS jit_available;
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = 0;
SET jit_optimize_above_cost = 0;
EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT count(*) FILTER (WHERE clock_timestamp() = '2011-11-11 11:11:11+00')
  FROM generate_series(1, 1000);
SELECT count(*) FILTER (WHERE now() = '2011-11-11 11:11:11+00') AS now_frozen,
       count(*) FILTER (WHERE clock_timestamp() = '2011-11-11 11:11:11+00') AS clock_frozen,
       count(*) FILTER (WHERE timeofday() = 'Fri Nov 11 11:11:11.000000 2011 UTC') AS timeofday_frozen,
       count(*) FILTER (WHERE CURRENT_TIMESTAMP = '2011-11-11 11:11:11+00') AS ct_frozen
  FROM big;
RESET jit;
RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;

SELECT unit_tests.unfreeze();
-- objects keep no trace of the frozen time
SELECT now() > '2025-01-01' AS real, f_sql() > '2025-01-01' AS f_sql, (SELECT now FROM v_now) > '2025-01-01' AS view;
DROP TABLE events, log, big;
DROP VIEW v_now;
DROP FUNCTION touch, f_sql, f_plpgsql, f_plpgsql_clock, f_atomic;
DROP PROCEDURE work;
DEALLOCATE ALL;
