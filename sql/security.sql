-- A superuser runs the extension over other roles' objects, in a database where an ordinary role
-- may create in public. Nothing of the extension may resolve an operator, function, aggregate or
-- type through that role's objects, whatever the superuser's search_path.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_unit_tests;
RESET client_min_messages;
\set VERBOSITY terse

-- Every function of the extension pins its search_path (pg_catalog, then pg_temp last, so no
-- temporary object shadows a relation) or has a body bound when the extension was
-- created (C functions resolve nothing by name).
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc AS p JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT e.oid FROM pg_extension AS e WHERE e.extname = 'pg_unit_tests')
   AND p.prolang <> (SELECT l.oid FROM pg_language AS l WHERE l.lanname = 'c')
   AND p.prosqlbody IS NULL
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c = 'search_path=pg_catalog, pg_temp')
 ORDER BY 1;

-- What the superuser will run: tables of a schema of tests, written before the trap is laid.
CREATE SCHEMA sec;
CREATE TABLE sec.t (i int PRIMARY KEY, note text);
INSERT INTO sec.t SELECT g, 'note ' || g FROM generate_series(1, 20) AS g;
CREATE SEQUENCE sec.s;
CREATE FUNCTION sec.startup_a() RETURNS void LANGUAGE sql BEGIN ATOMIC INSERT INTO sec.t VALUES (100, 'startup'); END;
CREATE FUNCTION sec.setup_a() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
CREATE FUNCTION sec.teardown_a() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
CREATE FUNCTION sec.shutdown_a() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
CREATE FUNCTION sec.test_passes() RETURNS boolean LANGUAGE sql RETURN true;
CREATE FUNCTION sec.test_fails() RETURNS boolean LANGUAGE sql RETURN false;
CREATE FUNCTION sec.test_errors() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT 1 / 0; END;
CREATE FUNCTION sec.test_tap() RETURNS SETOF text LANGUAGE sql BEGIN ATOMIC VALUES ('ok 1'), ('not ok 2'); END;
-- (overloads: run() spells out their defaults, which name functions and operators)
CREATE FUNCTION sec.test_over(x text DEFAULT lower('A') || 'b') RETURNS boolean LANGUAGE sql RETURN x = 'ab';
CREATE FUNCTION sec.test_over(y integer DEFAULT length('abc')) RETURNS boolean LANGUAGE sql RETURN y = 3;
CREATE ROLE pgut_target;

-- The trap: a role with CREATE on public defines, there, functions, operators and aggregates with
-- the names and argument types the extension's code uses. Each counts its calls in a sequence (a
-- rollback does not undo that), then does what the original does. Run by a superuser, any of
-- them could do anything.
CREATE ROLE pgut_mallory;
GRANT CREATE ON SCHEMA public TO pgut_mallory;
SET ROLE pgut_mallory;
CREATE SEQUENCE public.hijacks;
GRANT USAGE ON SEQUENCE public.hijacks TO PUBLIC;
CREATE FUNCTION public.trap() RETURNS boolean LANGUAGE sql VOLATILE
  RETURN pg_catalog.nextval('public.hijacks') OPERATOR(pg_catalog.>) 0;
DO $$
DECLARE
  f record;
  args text;
BEGIN
  FOR f IN SELECT * FROM (VALUES
      ('format', 'text', 'text'), ('format', 'text, text', 'text'), ('format', 'text, anyelement', 'text'),
      ('current_setting', 'text', 'text'), ('set_config', 'text, text, boolean', 'text'),
      ('quote_ident', 'text', 'text'), ('quote_literal', 'anyelement', 'text'), ('lower', 'text', 'text'),
      ('replace', 'text, text, text', 'text'), ('substr', 'text, integer', 'text'), ('length', 'text', 'integer'),
      ('string_to_array', 'text, text', 'text[]'), ('cardinality', 'anyarray', 'integer'),
      ('array_position', 'anycompatiblearray, anycompatible', 'integer'),
      ('concat_ws', 'text, text, text', 'text'), ('to_jsonb', 'anyelement', 'jsonb'),
      ('nextval', 'regclass', 'bigint'), ('setval', 'regclass, bigint, boolean', 'bigint'),
      ('has_table_privilege', 'oid, text', 'boolean'), ('has_sequence_privilege', 'oid, text', 'boolean'),
      ('has_schema_privilege', 'oid, text', 'boolean'), ('has_parameter_privilege', 'text, text', 'boolean'),
      ('pg_has_role', 'oid, text', 'boolean'), ('pg_relation_filenode', 'regclass', 'oid'),
      ('pg_relation_size', 'regclass', 'bigint'), ('pg_backend_pid', '', 'integer'),
      ('current_database', '', 'name'), ('pg_is_in_recovery', '', 'boolean'), ('now', '', 'timestamptz'),
      ('make_interval', 'integer, integer, integer, integer, integer, integer, double precision', 'interval'),
      ('trim_scale', 'numeric', 'numeric'), ('quote_nullable', 'anyelement', 'text'),
      ('pg_get_expr', 'pg_node_tree, oid', 'text'), ('format_type', 'oid, integer', 'text'),
      ('pg_get_constraintdef', 'oid', 'text'), ('regexp_replace', 'text, text, text', 'text'),
      ('btrim', 'text', 'text'), ('upper', 'text', 'text')) AS v(name, args, ret)
  LOOP
    SELECT string_agg('$' || n, ', ') INTO args
      FROM generate_series(1, CASE WHEN f.args = '' THEN 0 ELSE array_length(string_to_array(f.args, ','), 1) END) AS n;
    EXECUTE format('CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE sql VOLATILE '
                   'AS $f$SELECT CASE WHEN public.trap() THEN pg_catalog.%I(%s) END$f$',
                   f.name, f.args, f.ret, f.name, coalesce(args, ''));
  END LOOP;
  FOR f IN SELECT v.*, row_number() OVER () AS n FROM (VALUES
      ('=', 'oid', 'regtype', 'boolean'), ('=', 'oid', 'oid', 'boolean'), ('=', 'text', 'text', 'boolean'),
      ('=', 'name', 'text', 'boolean'), ('=', 'integer', 'integer', 'boolean'), ('=', 'bigint', 'bigint', 'boolean'),
      ('=', 'boolean', 'boolean', 'boolean'), ('=', '"char"', '"char"', 'boolean'), ('=', 'tid', 'tid', 'boolean'),
      ('=', 'regrole', 'oid', 'boolean'), ('<>', 'text', 'text', 'boolean'), ('<>', 'oid', 'oid', 'boolean'),
      ('<>', 'integer', 'integer', 'boolean'), ('<>', '"char"', '"char"', 'boolean'), ('||', 'text', 'text', 'text'),
      ('~', 'text', 'text', 'boolean'), ('!~', 'text', 'text', 'boolean'), ('~~', 'text', 'text', 'boolean'),
      ('>', 'bigint', 'bigint', 'boolean'), ('>', 'integer', 'integer', 'boolean'), ('>=', 'bigint', 'bigint', 'boolean'),
      ('<=', 'interval', 'interval', 'boolean'), ('-', 'double precision', 'double precision', 'double precision'),
      ('*', 'numeric', 'numeric', 'numeric'), ('/', 'bigint', 'numeric', 'numeric'), ('+', 'bigint', 'bigint', 'bigint'))
      AS v(op, l, r, ret)
  LOOP
    -- (Some have no exact twin in pg_catalog, / for bigint and numeric: they win on any path.)
    EXECUTE format('CREATE FUNCTION public.trap_op_%5$s(%1$s, %2$s) RETURNS %3$s LANGUAGE sql VOLATILE '
                   'RETURN CASE WHEN public.trap() THEN $1 OPERATOR(pg_catalog.%4$s) $2 END',
                   f.l, f.r, f.ret, f.op, f.n);
    EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.trap_op_%s)',
                   f.op, f.l, f.r, f.n);
  END LOOP;
END
$$;
CREATE FUNCTION public.count_text(bigint, text, text) RETURNS bigint LANGUAGE sql
  RETURN CASE WHEN public.trap() THEN $1 OPERATOR(pg_catalog.+) 1 END;
CREATE AGGREGATE public.string_agg(text, text) (SFUNC = public.count_text, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.count_any(bigint, anyelement) RETURNS bigint LANGUAGE sql
  AS $f$SELECT CASE WHEN public.trap() THEN $1 OPERATOR(pg_catalog.+) 1 END$f$;
CREATE AGGREGATE public.array_agg(anyelement) (SFUNC = public.count_any, STYPE = bigint, INITCOND = '0');
CREATE AGGREGATE public.min(bigint) (SFUNC = public.count_any, STYPE = bigint, INITCOND = '0');
CREATE AGGREGATE public.bool_or(boolean) (SFUNC = public.count_any, STYPE = bigint, INITCOND = '0');
RESET ROLE;
SELECT count(*) > 50 AS traps_laid FROM pg_proc WHERE pronamespace = 'public'::regnamespace;
SELECT is_called AS any_trap_called FROM public.hijacks;

-- The superuser, first with the default search_path ("$user", public: pg_catalog implicitly
-- first, so only better matches than pg_catalog's can be taken), then with public before
-- pg_catalog (every name can be taken).
CREATE FUNCTION pg_temp.exercise() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM unit_tests.snapshot('sec', ARRAY['sec']);
  PERFORM * FROM unit_tests.snapshots();
  DELETE FROM sec.t WHERE i OPERATOR(pg_catalog.=) 1;
  PERFORM pg_catalog.nextval('sec.s');
  PERFORM unit_tests.restore('sec');
  TRUNCATE sec.t;
  PERFORM unit_tests.restore('sec');
  PERFORM unit_tests.drop_snapshot('sec');
  PERFORM * FROM unit_tests.rolled_back('SELECT 1 AS a');
  PERFORM * FROM unit_tests.rolled_back('SELECT 1 / 0');
  PERFORM * FROM unit_tests.run('sec');
  PERFORM * FROM unit_tests.run_tap('sec');
  PERFORM * FROM unit_tests.run_tap('sec', '^nothing');
  PERFORM unit_tests.assert(true);
  PERFORM unit_tests.assert_equal(1, 1);
  PERFORM unit_tests.shadow_search_path('pgut_target');
  RETURN 'done';
END
$$;
SET search_path = "$user", public;
SELECT pg_temp.exercise();
-- (the shadowed session path, then a snapshot in REPEATABLE READ, which checks the log as well)
SELECT unit_tests.shadow_search_path() IS NOT NULL AS shadowed;
SET search_path = public, pg_catalog;
SELECT pg_temp.exercise();
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT unit_tests.snapshot('sec rr', ARRAY['sec']);
DELETE FROM sec.t WHERE i OPERATOR(pg_catalog.=) 2;
SELECT unit_tests.restore('sec rr');
SELECT unit_tests.drop_snapshot('sec rr');
COMMIT;
RESET search_path;
SELECT is_called AS any_trap_called FROM public.hijacks;
SELECT rolsuper FROM pg_roles WHERE rolname = 'pgut_mallory';

-- Injection through every text argument and every name read back from the catalogs: schema,
-- table, column, trigger, function and snapshot names made to end a statement and start another.
CREATE TABLE public.canary (i int);
CREATE SCHEMA "inj'; DROP TABLE public.canary; --";
CREATE TABLE "inj'; DROP TABLE public.canary; --"."t""; DROP TABLE public.canary; --" (
  "c'); DROP TABLE public.canary; --" text, "d"")); DROP TABLE public.canary; --" int);
INSERT INTO "inj'; DROP TABLE public.canary; --"."t""; DROP TABLE public.canary; --" VALUES ('$$; DROP TABLE public.canary; --', 1);
CREATE FUNCTION "inj'; DROP TABLE public.canary; --"."test_'); DROP TABLE public.canary; --"() RETURNS boolean
  LANGUAGE sql RETURN true;
SELECT unit_tests.snapshot($$n'); DROP TABLE public.canary; --$$, ARRAY[$$inj'; DROP TABLE public.canary; --$$]);
SELECT unit_tests.snapshot($$n2"; DROP TABLE public.canary; --$$, ARRAY[$$inj'; DROP TABLE public.canary; --$$, 'sec']);
UPDATE "inj'; DROP TABLE public.canary; --"."t""; DROP TABLE public.canary; --" SET "d"")); DROP TABLE public.canary; --" = 2;
SELECT unit_tests.restore($$n'); DROP TABLE public.canary; --$$);
TRUNCATE "inj'; DROP TABLE public.canary; --"."t""; DROP TABLE public.canary; --";
SELECT unit_tests.restore($$n2"; DROP TABLE public.canary; --$$);
SELECT * FROM "inj'; DROP TABLE public.canary; --"."t""; DROP TABLE public.canary; --";
SELECT unit_tests.restore($$x'); DROP TABLE public.canary; --$$);
SELECT unit_tests.drop_snapshot($$n'); DROP TABLE public.canary; --$$);
SELECT unit_tests.drop_snapshot($$n2"; DROP TABLE public.canary; --$$);
SELECT name, ok FROM unit_tests.run($$inj'; DROP TABLE public.canary; --$$, $$^test_'\); DROP$$);
SELECT * FROM unit_tests.run_tap($$inj'; DROP TABLE public.canary; --$$, $$'\); DROP TABLE public.canary; --$$);
SELECT * FROM unit_tests.run_tap($$inj'; DROP TABLE public.canary; --$$, $$^x'\); DROP TABLE public.canary; --$$);
SELECT * FROM unit_tests.run($$x'); DROP TABLE public.canary; --$$);
CREATE ROLE "pgut_r'; DROP TABLE public.canary; --";
SELECT unit_tests.shadow_search_path($$"pgut_r'; DROP TABLE public.canary; --"$$);
SELECT to_regclass('public.canary') AS canary;
DROP ROLE "pgut_r'; DROP TABLE public.canary; --";
DROP SCHEMA "inj'; DROP TABLE public.canary; --" CASCADE;
DROP TABLE public.canary;

-- The internal C helpers are callable by every role (EXECUTE is PUBLIC's): called directly, with
-- relations and arguments they were not made for, each gives an error, never a crashed server.
SET ROLE pgut_mallory;
CREATE VIEW public.mallory_view AS SELECT 1::oid AS relid;
CREATE TABLE public.mallory_parted (relid oid) PARTITION BY LIST (relid);
CREATE SEQUENCE public.mallory_seq;
CREATE INDEX ON public.mallory_parted (relid);
SELECT unit_tests._snapshot_unseen('public.mallory_view');
SELECT unit_tests._snapshot_unseen('public.mallory_view', '{1}');
SELECT unit_tests._snapshot_unseen('public.mallory_parted');
SELECT unit_tests._snapshot_unseen('public.mallory_seq');
SELECT unit_tests._snapshot_unseen('public.mallory_parted_relid_idx');
SELECT unit_tests._snapshot_unseen('pg_catalog.pg_class');
SELECT unit_tests._snapshot_unseen(NULL) AS no_table;
SELECT unit_tests._snapshot_track();
SELECT unit_tests._snapshot_quiet(ARRAY['pg_catalog.pg_class'::regclass::oid]) AS silenced;
SELECT unit_tests._execute(NULL);
RESET ROLE;
SELECT 'still connected' AS server;

DROP SCHEMA sec CASCADE;
DROP OWNED BY pgut_mallory;
DROP OWNED BY pgut_target;
DROP ROLE pgut_mallory;
DROP ROLE pgut_target;
