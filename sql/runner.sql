-- Rolled-back blocks and the xUnit runner: unit_tests.rolled_back, run, run_tap, assert*.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_unit_tests;
RESET client_min_messages;
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL CHECK (balance >= 0));
INSERT INTO accounts VALUES (1, 100), (2, 50);

-- A statement's rows come back as jsonb, and what it wrote is gone.
SELECT ok, result, row_count, sqlstate
  FROM unit_tests.rolled_back('UPDATE accounts SET balance = balance - 10 RETURNING id, balance');
SELECT ok, result, row_count FROM unit_tests.rolled_back('SELECT id, balance FROM accounts ORDER BY id;');
SELECT ok, result, row_count FROM unit_tests.rolled_back('DELETE FROM accounts');
SELECT ok, result, row_count FROM unit_tests.rolled_back('CREATE TABLE scratch (i int)');
SELECT * FROM accounts ORDER BY id;
SELECT to_regclass('scratch') AS scratch;
-- An error comes back as a row, with SQLSTATE, detail and context; the caller goes on.
SELECT ok, result, sqlstate, message, detail, context
  FROM unit_tests.rolled_back('UPDATE accounts SET balance = balance - 60 WHERE id = 2');
SELECT ok, sqlstate, message FROM unit_tests.rolled_back('INSERT INTO accounts VALUES (1, 0)');
SELECT ok, sqlstate, message FROM unit_tests.rolled_back('SELECT 1/0');
SELECT ok, sqlstate, message FROM unit_tests.rolled_back('COMMIT');
SELECT elapsed >= '0' AS timed FROM unit_tests.rolled_back('SELECT 1');
SELECT unit_tests.rolled_back(NULL);
-- Any statement psql would run: data-modifying WITH, SELECT ... INTO, a leading comment, the word
-- returning in a string literal, several statements (the last one's rows), a utility statement
-- that returns rows; a column named like the subquery alias of old.
SELECT ok, result, row_count, message
  FROM unit_tests.rolled_back('WITH d AS (DELETE FROM accounts WHERE id = 2 RETURNING id) SELECT d.id FROM d');
SELECT ok, result, row_count, message FROM unit_tests.rolled_back('SELECT id INTO TEMP copied FROM accounts');
SELECT ok, result, row_count, message FROM unit_tests.rolled_back(E'-- the balances\nSELECT id FROM accounts ORDER BY id');
SELECT ok, result, row_count, message FROM unit_tests.rolled_back('/* first */ VALUES (1)');
SELECT ok, result, row_count, message FROM unit_tests.rolled_back($$UPDATE accounts SET balance = 1 WHERE 'returning' <> ''$$);
SELECT ok, result, row_count, message FROM unit_tests.rolled_back('DELETE FROM accounts WHERE id = 1; SELECT count(*) AS left FROM accounts');
SELECT ok, result, row_count FROM unit_tests.rolled_back('SHOW datestyle');
SELECT ok, result FROM unit_tests.rolled_back('SELECT 1 AS q, 2 AS x');
SELECT to_regclass('copied') AS copied, (SELECT count(*) FROM accounts) AS accounts;
-- What a rollback does not undo survives the block (README, "Rolled-back blocks"): sequence
-- values, session-level advisory locks, prepared statements.
CREATE SEQUENCE numbers;
SELECT ok FROM unit_tests.rolled_back($$SELECT nextval('numbers'), pg_advisory_lock(42); PREPARE kept AS SELECT 1$$);
SELECT last_value, is_called FROM numbers;
SELECT count(*) AS advisory_locks_held FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT name FROM pg_prepared_statements;
SELECT pg_advisory_unlock(42);
DEALLOCATE kept;
DROP SEQUENCE numbers;
-- Time frozen in a rolled-back block is undone with it.
SELECT ok, result -> 0 ->> 'freeze' AS frozen_inside
  FROM unit_tests.rolled_back($$SELECT unit_tests.freeze('2024-02-29 12:00:00+00')$$);
SELECT unit_tests.is_frozen();

-- Assertions.
SELECT unit_tests.assert(true);
SELECT unit_tests.assert(1 > 2, 'one is not greater than two');
SELECT unit_tests.assert(NULL);
SELECT unit_tests.assert_equal(2 + 2, 4);
SELECT unit_tests.assert_equal((SELECT count(*) FROM accounts), 3, 'accounts');
SELECT unit_tests.assert_equal('a'::text, NULL, 'name');
-- Equal as the type defines it (its default equality), wherever the type and its operators live:
-- citext's = is in public, not on the assertion's pinned search_path.
CREATE EXTENSION citext SCHEMA public;
SELECT unit_tests.assert_equal('Hello'::citext, 'hELLO'::citext, 'citext');
SELECT unit_tests.assert_equal(ARRAY['A']::citext[], ARRAY['a']::citext[], 'citext[]');
SELECT unit_tests.assert_equal(ROW('A'::citext, 1), ROW('a'::citext, 1), 'row');
SELECT unit_tests.assert_equal('Hello'::citext, 'world'::citext, 'citext');
SELECT unit_tests.assert_equal(NULL::citext, NULL::citext, 'both NULL');
SELECT unit_tests.assert_equal('{"a": 1}'::json, '{"a": 1}'::json, 'json');
DROP EXTENSION citext;

-- The runner: test functions of a schema, each in its own rolled-back subtransaction, with
-- startup*/shutdown* once around them and setup*/teardown* around each.
CREATE SCHEMA bank_tests;
CREATE TABLE log (what text);
CREATE FUNCTION bank_tests.startup_accounts() RETURNS void LANGUAGE sql
  AS $$ INSERT INTO accounts VALUES (3, 1000); INSERT INTO log VALUES ('startup') $$;
CREATE FUNCTION bank_tests.setup_freeze() RETURNS void LANGUAGE sql
  AS $$ SELECT unit_tests.freeze('2024-02-29 12:00:00+00'); INSERT INTO log VALUES ('setup') $$;
CREATE FUNCTION bank_tests.teardown_check() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO log VALUES ('teardown');
  PERFORM unit_tests.assert((SELECT sum(balance) FROM accounts) >= 0, 'balances negative');
END $$;
CREATE FUNCTION bank_tests.shutdown_note() RETURNS void LANGUAGE sql AS $$ INSERT INTO log VALUES ('shutdown') $$;
CREATE FUNCTION bank_tests.test_01_transfer() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE accounts SET balance = balance - 30 WHERE id = 1;
  UPDATE accounts SET balance = balance + 30 WHERE id = 2;
  PERFORM unit_tests.assert_equal((SELECT balance FROM accounts WHERE id = 2), 80::numeric, 'balance of 2');
  PERFORM unit_tests.assert_equal(now(), '2024-02-29 12:00:00+00'::timestamptz, 'frozen by setup');
END $$;
CREATE FUNCTION bank_tests.test_02_sees_startup_not_test_01() RETURNS boolean LANGUAGE sql
  AS $$ SELECT (SELECT balance FROM accounts WHERE id = 2) = 50 AND EXISTS (SELECT 1 FROM accounts WHERE id = 3) $$;
CREATE FUNCTION bank_tests.test_03_overdraft() RETURNS void LANGUAGE sql
  AS $$ UPDATE accounts SET balance = balance - 500 WHERE id = 1 $$;
CREATE FUNCTION bank_tests.test_04_wrong() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM unit_tests.assert_equal((SELECT count(*) FROM accounts), 2::bigint, 'number of accounts');
END $$;
CREATE FUNCTION bank_tests.test_05_false() RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE FUNCTION bank_tests.test_06_tap_lines() RETURNS SETOF text LANGUAGE sql
  AS $$ VALUES ('ok 1 - first'), ('not ok 2 - second'), ('#   Failed test 2: "second"') $$;
CREATE FUNCTION bank_tests.test_07_plpgsql_assert() RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN ASSERT 1 = 2, 'plain ASSERT'; END $$;
CREATE FUNCTION bank_tests.test_08_commits() RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN COMMIT; END $$;
CREATE FUNCTION bank_tests.test_09_teardown_fails() RETURNS void LANGUAGE sql
  AS $$ UPDATE accounts SET balance = -1 WHERE id = 3 AND false; ALTER TABLE accounts DROP CONSTRAINT accounts_balance_check; UPDATE accounts SET balance = -5000 $$;
CREATE FUNCTION bank_tests.helper_not_a_test() RETURNS void LANGUAGE sql AS $$ SELECT 1/0 $$;

SELECT name, ok, message, "time" >= '0' AS timed FROM unit_tests.run('bank_tests');
SELECT * FROM unit_tests.run_tap('bank_tests', '^test_0[1-3]');
SELECT * FROM unit_tests.run_tap('bank_tests', '^test_0[4-9]');
SELECT * FROM unit_tests.run_tap('bank_tests', '^nothing');
-- nothing the tests, setup, startup or teardown did is left, and time is real
SELECT count(*) AS log_rows FROM log;
SELECT * FROM accounts ORDER BY id;
SELECT unit_tests.is_frozen();

-- A broken startup fails every test, clearly, and runs none.
CREATE FUNCTION bank_tests.startup_broken() RETURNS void LANGUAGE sql AS $$ INSERT INTO accounts VALUES (1, 1) $$;
SELECT name, ok, message FROM unit_tests.run('bank_tests', '^test_0[12]');
SELECT * FROM unit_tests.run('no_such_schema');
SELECT * FROM unit_tests.run(NULL);
SELECT * FROM unit_tests.run('bank_tests', NULL);
SELECT * FROM unit_tests.run('bank_tests', '^test_(');

-- TAP: a name or message cannot add a directive (# TODO would make a failure pass for prove) or
-- a line of its own (which could forge an "ok").
CREATE SCHEMA tap_tests;
CREATE FUNCTION tap_tests."test_1 # TODO later"() RETURNS boolean LANGUAGE sql RETURN false;
CREATE FUNCTION tap_tests."test_2
ok 3 - forged"() RETURNS boolean LANGUAGE sql RETURN true;
CREATE FUNCTION tap_tests."test_3 back\slash # SKIP"() RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION E'line one\nok 4 - forged\rok 5 - forged too'; END $$;
SELECT * FROM unit_tests.run_tap('tap_tests');
DROP SCHEMA tap_tests CASCADE;
CREATE SCHEMA "tap
ok 1 - forged";
SELECT * FROM unit_tests.run_tap(E'tap\nok 1 - forged', E'^x\n# TODO');
DROP SCHEMA "tap
ok 1 - forged";
DROP SCHEMA bank_tests CASCADE;
DROP TABLE log, accounts;

-- Overloads whose arguments all have defaults: each runs, called with its own defaults (a bare
-- name() is "not unique" for them), and is named with its argument types. An OUT argument before
-- a defaulted one, a VARIADIC one and a type outside pg_catalog are spelled right; a function with
-- an argument without default is no test. A zero-argument function beside such an overload cannot
-- be called by anyone: PostgreSQL's own "not unique" says so.
CREATE SCHEMA overload_tests;
CREATE DOMAIN overload_tests.positive AS integer CHECK (VALUE > 0);
CREATE FUNCTION overload_tests.test_a(x integer DEFAULT 1) RETURNS boolean LANGUAGE sql RETURN x = 1;
CREATE FUNCTION overload_tests.test_a(y text DEFAULT 'a') RETURNS boolean LANGUAGE sql RETURN y = 'a';
CREATE FUNCTION overload_tests.test_a(z overload_tests.positive DEFAULT 3) RETURNS boolean LANGUAGE sql RETURN z = 3;
CREATE FUNCTION overload_tests.test_b(OUT ok boolean, n numeric DEFAULT 2.5) LANGUAGE sql AS $$ SELECT n = 2.5 $$;
CREATE FUNCTION overload_tests.test_b(VARIADIC v integer[] DEFAULT '{1,2}') RETURNS boolean LANGUAGE sql RETURN cardinality(v) = 2;
CREATE FUNCTION overload_tests.test_c(a integer, b integer DEFAULT 2) RETURNS boolean LANGUAGE sql RETURN false;
CREATE FUNCTION overload_tests.test_d() RETURNS boolean LANGUAGE sql RETURN true;
CREATE FUNCTION overload_tests.test_e() RETURNS boolean LANGUAGE sql RETURN true;
CREATE FUNCTION overload_tests.test_e(x integer DEFAULT 1) RETURNS boolean LANGUAGE sql RETURN true;
-- (cast to bpchar and "bit" without a length: "character" would mean char(1) and cut the value)
CREATE FUNCTION overload_tests.test_f(c char(3) DEFAULT 'abc') RETURNS boolean LANGUAGE sql RETURN c = 'abc';
CREATE FUNCTION overload_tests.test_f(b bit(3) DEFAULT B'101') RETURNS boolean LANGUAGE sql RETURN b = B'101';
-- (a polymorphic overload cannot be named by a cast: it would call its sibling)
CREATE FUNCTION overload_tests.test_p(x anyelement DEFAULT 1) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE FUNCTION overload_tests.test_p(x integer DEFAULT 2) RETURNS boolean LANGUAGE sql RETURN x = 2;
-- setup and teardown overloads run as well, and are named exactly when they fail
CREATE FUNCTION overload_tests.setup(x integer DEFAULT 1) RETURNS void LANGUAGE sql RETURN NULL;
CREATE FUNCTION overload_tests.setup(x text DEFAULT 'a') RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN IF current_setting('overload.fail', true) = 'yes' THEN RAISE EXCEPTION 'setup %', x; END IF; END $$;
SELECT name, ok, message FROM unit_tests.run('overload_tests');
SET overload.fail = 'yes';
SELECT name, ok, message FROM unit_tests.run('overload_tests', '^test_d');
RESET overload.fail;
DROP SCHEMA overload_tests CASCADE;
