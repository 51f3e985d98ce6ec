-- pg_unit_tests install script, part 40: rolled-back blocks and the xUnit runner.
--
-- Everything here runs in PL/pgSQL subtransactions (BEGIN ... EXCEPTION blocks) that are always
-- rolled back: the block raises a private SQLSTATE at its end and catches it. What the statement
-- returned, or the error it raised, was copied into variables first, and PL/pgSQL variables are not
-- rolled back. Settings go back with the subtransaction, so a unit_tests.freeze() inside a block is
-- undone with it. Statements that end transactions (COMMIT in a procedure) cannot run inside a
-- subtransaction; they fail with PostgreSQL's "invalid transaction termination".
--
-- Search path: superusers run these functions over code that other roles wrote, so no name in
-- them may be resolved through a search_path another role can write to. The public functions are
-- thin SQL functions with bodies bound when the extension was created; they pass the caller's
-- search_path to workers that pin their own (pg_catalog, pg_temp) and put the caller's back only
-- around the one dynamic statement that runs the user's code, which is itself fully qualified. The
-- user's statement and test functions therefore see the objects they expect, and nothing of ours
-- can be replaced by an operator or function of the same name in a schema such as public.

-- A clock that time control never touches, for durations (clock_timestamp() follows freeze()).
CREATE FUNCTION unit_tests._monotonic_seconds() RETURNS double precision
  LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgut_monotonic_seconds';

-- Runs a statement (or several) through SPI and returns its rows as jsonb (NULL when it returns
-- none) and its row count (extension/src/testing/execute.cpp).
CREATE FUNCTION unit_tests._execute(statement text, OUT rows jsonb, OUT row_count bigint)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgut_execute';

-- The lines of an error context that come from this file's own functions are noise to the caller.
CREATE FUNCTION unit_tests._user_context(context text) RETURNS text
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
RETURN (SELECT nullif(string_agg(l, E'\n' ORDER BY n), '')
          FROM unnest(string_to_array(context, E'\n')) WITH ORDINALITY AS t(l, n)
         WHERE l !~ '^PL/pgSQL function unit_tests\.(assert|assert_equal)\('
           AND l !~ 'unit_tests\._(rolled_back|run|run_call|run_caught|run_test)\('
           AND l !~ '^SQL statement "SELECT pg_catalog\.array_agg\(\(x\.\*\)::pg_catalog\.text\) FROM '
           AND l !~ '^SQL statement "SELECT x\.rows, x\.row_count\s+FROM unit_tests\._execute\('
           AND l !~ '^SQL function "(rolled_back|run|run_tap)" statement');

-- "ERROR 23505: message" plus DETAIL, HINT and CONTEXT lines, as psql would show them.
CREATE FUNCTION unit_tests._error_text(state text, message text, detail text, hint text, context text)
  RETURNS text
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
RETURN concat_ws(E'\n', format('ERROR %s: %s', state, message), 'DETAIL: ' || nullif(detail, ''),
                 'HINT: ' || nullif(hint, ''), 'CONTEXT: ' || unit_tests._user_context(context));

CREATE FUNCTION unit_tests._rolled_back(statement text, caller_search_path text,
    OUT ok boolean, OUT result jsonb, OUT row_count bigint, OUT sqlstate text, OUT message text,
    OUT detail text, OUT hint text, OUT context text, OUT elapsed interval)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started double precision;
  e_state text; e_message text; e_detail text; e_hint text; e_context text;
BEGIN
  IF statement IS NULL THEN
    RAISE EXCEPTION 'unit_tests.rolled_back: the statement must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  started := unit_tests._monotonic_seconds();
  BEGIN
    -- (Both set_config() calls are undone with the block; the statement between them is fully
    -- qualified, so the caller's path resolves only the user's statement.)
    PERFORM set_config('search_path', caller_search_path, true);
    SELECT x.rows, x.row_count INTO result, row_count FROM unit_tests._execute(statement) AS x;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    elapsed := make_interval(secs => unit_tests._monotonic_seconds() - started);
    RAISE SQLSTATE 'UTRB1';
  EXCEPTION WHEN OTHERS OR assert_failure THEN
    IF SQLSTATE <> 'UTRB1' THEN
      elapsed := make_interval(secs => unit_tests._monotonic_seconds() - started);
      GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT,
        e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT, e_context = PG_EXCEPTION_CONTEXT;
    END IF;
  END;
  ok := e_state IS NULL;
  IF NOT ok THEN
    result := NULL;
    row_count := NULL;
    _rolled_back.sqlstate := e_state;
    _rolled_back.message := e_message;
    _rolled_back.detail := NULLIF(e_detail, '');
    _rolled_back.hint := NULLIF(e_hint, '');
    _rolled_back.context := unit_tests._user_context(e_context);
  END IF;
END
$$;

CREATE FUNCTION unit_tests.rolled_back(statement text,
    OUT ok boolean, OUT result jsonb, OUT row_count bigint, OUT sqlstate text, OUT message text,
    OUT detail text, OUT hint text, OUT context text, OUT elapsed interval)
  LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT r.ok, r.result, r.row_count, r.sqlstate, r.message, r.detail, r.hint, r.context, r.elapsed
    FROM unit_tests._rolled_back(statement, pg_catalog.current_setting('search_path')) AS r;
END;
COMMENT ON FUNCTION unit_tests.rolled_back(text) IS
  'Runs a statement in a subtransaction that is always rolled back; returns its rows (jsonb) and row count, or its error';

-- Assertions for test functions: they raise assert_failure (P0004), like PL/pgSQL's ASSERT (which
-- WHEN OTHERS does not catch: every handler here names it).
CREATE FUNCTION unit_tests.assert(condition boolean, message text DEFAULT 'assertion failed')
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF condition IS NULL THEN
    RAISE EXCEPTION '%', message USING ERRCODE = 'assert_failure', DETAIL = 'The condition is NULL.';
  ELSIF NOT condition THEN
    RAISE EXCEPTION '%', message USING ERRCODE = 'assert_failure';
  END IF;
END
$$;

-- a IS NOT DISTINCT FROM b by the type's own default equality, found from the type rather than by
-- name (extension/src/testing/equal.cpp): the "=" of a type in another schema (citext, hstore) is
-- not on the pinned search_path below.
CREATE FUNCTION unit_tests._equal(a anycompatible, b anycompatible) RETURNS boolean
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgut_equal';

CREATE FUNCTION unit_tests.assert_equal(actual anycompatible, expected anycompatible,
                                        what text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT unit_tests._equal(actual, expected) THEN
    RAISE EXCEPTION '%expected %, got %', coalesce(what || ': ', ''),
        coalesce(quote_literal(expected), 'NULL'), coalesce(quote_literal(actual), 'NULL')
      USING ERRCODE = 'assert_failure';
  END IF;
END
$$;

-- Whether the schema has another function of this one's name that run() would take (no arguments
-- without a default): then a bare name() does not tell them apart ("not unique").
CREATE FUNCTION unit_tests._overloaded(fn oid) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_proc AS p JOIN pg_proc AS o
                 ON o.pronamespace = p.pronamespace AND o.proname = p.proname AND o.oid <> p.oid
                WHERE p.oid = fn AND o.prokind = 'f' AND o.pronargs = o.pronargdefaults);

-- The arguments that call exactly this overload: each default's value, as a literal cast to its
-- argument's type written as schema.name from the catalog (format_type would write char(n) as
-- "character", which means char(1) and cuts the value). The defaults are evaluated here, on the
-- pinned search_path they were deparsed on (so every name binds as in the stored default), never
-- parsed again on the caller's path: the call statement stays fully qualified. Positions count OUT
-- arguments too (pg_get_function_arg_default); extra_float_digits = 3 keeps a float exact in text.
-- Only for overloads: a bare name() uses the stored defaults.
CREATE FUNCTION unit_tests._default_arguments(fn oid) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  SET extra_float_digits = 3
AS $$
DECLARE
  a record;
  value text;
  arguments text[] := '{}';
BEGIN
  FOR a IN
    SELECT x.pos::integer AS pos, coalesce(p.proargmodes[x.pos], 'i') AS mode,
           tn.nspname AS type_schema, t.typname AS type_name
      FROM pg_proc AS p,
           unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS x(typ, pos)
           JOIN pg_type AS t ON t.oid = x.typ
           JOIN pg_namespace AS tn ON tn.oid = t.typnamespace
     WHERE p.oid = fn AND coalesce(p.proargmodes[x.pos], 'i') IN ('i', 'b', 'v')
     ORDER BY x.pos
  LOOP
    EXECUTE format('SELECT ((%s)::%I.%I)::pg_catalog.text', pg_get_function_arg_default(fn, a.pos),
                   a.type_schema, a.type_name)
      INTO value;
    arguments := arguments || (CASE WHEN a.mode = 'v' THEN 'VARIADIC ' ELSE '' END
                               || format('%s::%I.%I', coalesce(quote_literal(value), 'NULL'),
                                         a.type_schema, a.type_name));
  END LOOP;
  RETURN array_to_string(arguments, ', ');
END
$$;

-- A test's name in the results: its function's name, with its argument types when it is
-- overloaded (run() takes each overload).
CREATE FUNCTION unit_tests._test_name(fn oid) RETURNS text
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
RETURN (SELECT CASE WHEN unit_tests._overloaded(fn)
                    THEN format('%s(%s)', p.proname, oidvectortypes(p.proargtypes))
                    ELSE p.proname::text END
          FROM pg_proc AS p WHERE p.oid = fn);

-- Calls one function; returns NULL when it passed, else why it failed. A test fails when it raises
-- an error, returns false, or returns TAP lines (pgTAP's ok(), is() ...) with a "not ok" among them.
-- The function runs with the caller's search_path; the statement that calls it names everything
-- with its schema, and takes the whole row through (x.*) (a bare x would be a column named x).
CREATE FUNCTION unit_tests._run_call(fn oid, caller_search_path text) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  arguments text := '';
  call_sql text;
  returns_boolean boolean := (SELECT p.prorettype = 'boolean'::regtype FROM pg_proc AS p WHERE p.oid = fn);
  out text[];
  failed text;
BEGIN
  IF unit_tests._overloaded(fn) THEN
    -- A polymorphic argument takes its type from the call: no cast can name this overload.
    IF EXISTS (SELECT FROM pg_proc AS p, unnest(p.proargtypes::oid[]) AS a(typ)
                 JOIN pg_type AS t ON t.oid = a.typ
                WHERE p.oid = fn AND t.typtype = 'p') THEN
      RAISE EXCEPTION '% cannot be called apart from its overloads: its argument of a polymorphic type takes its type from the call', fn::regprocedure
        USING ERRCODE = 'ambiguous_function', HINT = 'Give the test function a name of its own.';
    END IF;
    arguments := unit_tests._default_arguments(fn);
  END IF;
  call_sql := (SELECT format('SELECT pg_catalog.array_agg((x.*)::pg_catalog.text) FROM %I.%I(%s) AS x',
                             n.nspname, p.proname, arguments)
                 FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE p.oid = fn);
  PERFORM set_config('search_path', caller_search_path, true);
  EXECUTE call_sql INTO out;
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  IF returns_boolean THEN
    IF out IS NULL OR 'false' = ANY (out) OR NOT (out[1] IS NOT NULL) THEN
      RETURN 'returned ' || coalesce(out[1], 'NULL');
    END IF;
    RETURN NULL;
  END IF;
  SELECT string_agg(l, E'\n') INTO failed
    FROM unnest(out) AS o, unnest(string_to_array(o, E'\n')) AS l
   WHERE l ~ '^\s*not ok\M' OR l ~ '^\s*#\s';
  IF EXISTS (SELECT 1 FROM unnest(out) AS o, unnest(string_to_array(o, E'\n')) AS l
              WHERE l ~ '^\s*not ok\M') THEN
    RETURN failed;
  END IF;
  RETURN NULL;
END
$$;

-- _run_call, with an error turned into the failure text (its effects rolled back with it).
CREATE FUNCTION unit_tests._run_caught(fn oid, caller_search_path text) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e_state text; e_message text; e_detail text; e_hint text; e_context text;
BEGIN
  RETURN unit_tests._run_call(fn, caller_search_path);
EXCEPTION WHEN OTHERS OR assert_failure THEN
  GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT,
    e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT, e_context = PG_EXCEPTION_CONTEXT;
  RETURN unit_tests._error_text(e_state, e_message, e_detail, e_hint, e_context);
END
$$;

-- One test: setup functions, the test, teardown functions (even after a failed test), all in one
-- subtransaction that is rolled back.
CREATE FUNCTION unit_tests._run_test(test oid, setups oid[], teardowns oid[], caller_search_path text,
    OUT ok boolean, OUT message text, OUT seconds double precision)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  fn oid;
  stage text;
  why text;
  started double precision := unit_tests._monotonic_seconds();
  e_state text; e_message text; e_detail text; e_hint text; e_context text;
BEGIN
  BEGIN
    FOREACH fn IN ARRAY setups LOOP
      stage := format('setup %s ', fn::regprocedure);
      why := unit_tests._run_call(fn, caller_search_path);
      IF why IS NOT NULL THEN
        message := stage || why;
        RAISE SQLSTATE 'UTRB1';
      END IF;
    END LOOP;
    stage := '';
    message := unit_tests._run_caught(test, caller_search_path);
    FOREACH fn IN ARRAY teardowns LOOP
      stage := format('teardown %s ', fn::regprocedure);
      why := unit_tests._run_call(fn, caller_search_path);
      IF why IS NOT NULL THEN
        message := concat_ws(E'\n', message, stage || why);
      END IF;
    END LOOP;
    RAISE SQLSTATE 'UTRB1';
  EXCEPTION WHEN OTHERS OR assert_failure THEN
    IF SQLSTATE <> 'UTRB1' THEN
      GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT,
        e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT, e_context = PG_EXCEPTION_CONTEXT;
      message := concat_ws(E'\n', message,
                           stage || unit_tests._error_text(e_state, e_message, e_detail, e_hint, e_context));
    END IF;
  END;
  seconds := unit_tests._monotonic_seconds() - started;
  ok := message IS NULL;
END
$$;

CREATE FUNCTION unit_tests._run(schema text, pattern text, caller_search_path text)
  RETURNS TABLE (name text, ok boolean, "time" interval, message text)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  nsp oid;
  startups oid[]; setups oid[]; teardowns oid[]; shutdowns oid[]; tests oid[];
  names text[] := '{}'; oks boolean[] := '{}'; times double precision[] := '{}'; messages text[] := '{}';
  fn oid;
  why text;
  broken text;
  r record;
BEGIN
  IF schema IS NULL OR pattern IS NULL THEN
    RAISE EXCEPTION 'unit_tests.run: the % must not be NULL', CASE WHEN schema IS NULL THEN 'schema' ELSE 'pattern' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT n.oid INTO nsp FROM pg_namespace AS n WHERE n.nspname = schema;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unit_tests.run: schema "%" does not exist', schema
      USING ERRCODE = 'invalid_schema_name';
  END IF;
  BEGIN
    PERFORM '' ~ pattern;
  EXCEPTION WHEN invalid_regular_expression THEN
    RAISE EXCEPTION 'unit_tests.run: the pattern % is not a valid regular expression (%)', quote_literal(pattern), SQLERRM
      USING ERRCODE = 'invalid_regular_expression',
            HINT = 'The pattern selects the test functions by name, as with ~: ''^test'' (the default) takes every name that starts with test.';
  END;
  -- Zero-argument functions (or all arguments defaulted), in name order, like pgTAP's runtests();
  -- overloads of one name by their argument types.
  WITH f AS (SELECT p.oid, p.proname, oidvectortypes(p.proargtypes) AS args FROM pg_proc AS p
              WHERE p.pronamespace = nsp AND p.prokind = 'f' AND p.pronargs = p.pronargdefaults)
  SELECT array_agg(f.oid ORDER BY f.proname, f.args) FILTER (WHERE f.proname ~ '^startup'),
         array_agg(f.oid ORDER BY f.proname, f.args) FILTER (WHERE f.proname ~ '^setup'),
         array_agg(f.oid ORDER BY f.proname, f.args) FILTER (WHERE f.proname ~ '^teardown'),
         array_agg(f.oid ORDER BY f.proname, f.args) FILTER (WHERE f.proname ~ '^shutdown'),
         array_agg(f.oid ORDER BY f.proname, f.args) FILTER (WHERE f.proname ~ pattern
                                                     AND f.proname !~ '^(startup|setup|teardown|shutdown)')
    INTO startups, setups, teardowns, shutdowns, tests
    FROM f;

  -- The whole run is one more rolled-back block: what startup functions create is seen by every
  -- test and gone afterwards.
  BEGIN
    FOREACH fn IN ARRAY coalesce(startups, '{}') LOOP
      why := unit_tests._run_caught(fn, caller_search_path);
      IF why IS NOT NULL THEN
        broken := format('startup %s failed, test not run: %s', fn::regprocedure, why);
        EXIT;
      END IF;
    END LOOP;
    FOREACH fn IN ARRAY coalesce(tests, '{}') LOOP
      names := names || unit_tests._test_name(fn);
      IF broken IS NOT NULL THEN
        oks := oks || false; times := times || 0::double precision; messages := messages || broken;
        CONTINUE;
      END IF;
      SELECT * INTO r FROM unit_tests._run_test(fn, coalesce(setups, '{}'), coalesce(teardowns, '{}'), caller_search_path);
      oks := oks || r.ok; times := times || r.seconds; messages := messages || r.message;
    END LOOP;
    FOREACH fn IN ARRAY coalesce(shutdowns, '{}') LOOP
      why := unit_tests._run_caught(fn, caller_search_path);
      IF why IS NOT NULL THEN
        names := names || unit_tests._test_name(fn);
        oks := oks || false; times := times || 0::double precision; messages := messages || why;
      END IF;
    END LOOP;
    RAISE SQLSTATE 'UTRB1';
  EXCEPTION WHEN SQLSTATE 'UTRB1' THEN
    NULL;
  END;

  RETURN QUERY
    SELECT t.n, t.o, make_interval(secs => t.s), t.m
      FROM unnest(names, oks, times, messages) AS t(n, o, s, m);
END
$$;

CREATE FUNCTION unit_tests.run(schema text DEFAULT 'public', pattern text DEFAULT '^test')
  RETURNS TABLE (name text, ok boolean, "time" interval, message text)
  LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT r.name, r.ok, r."time", r.message
    FROM unit_tests._run(schema, pattern, pg_catalog.current_setting('search_path')) AS r;
END;
COMMENT ON FUNCTION unit_tests.run(text, text) IS
  'Runs every test function of a schema whose name matches pattern, each in its own rolled-back subtransaction with the schema''s setup*/teardown* functions (startup*/shutdown* once around all); one row per test';

-- Text for a TAP line: a description may not contain "#" (it would start a directive such as
-- "# TODO", which turns a failure into a pass for prove) nor a line break (which would start a
-- line of its own, possibly "ok 2"). Backslashes are escaped first, so the escapes stay readable.
CREATE FUNCTION unit_tests._tap_escape(s text) RETURNS text
  LANGUAGE sql IMMUTABLE
RETURN replace(replace(replace(replace(s, E'\\', E'\\\\'), '#', E'\\#'), E'\r', E'\\r'), E'\n', E'\\n');

CREATE FUNCTION unit_tests.run_tap(schema text DEFAULT 'public', pattern text DEFAULT '^test')
  RETURNS SETOF text
  LANGUAGE sql VOLATILE
BEGIN ATOMIC
  WITH r AS (SELECT row_number() OVER () AS i, t.name, t.ok, t.message FROM unit_tests.run(schema, pattern) AS t)
  SELECT x.line FROM (
    SELECT 0 AS i, 0 AS j,
           '1..' || count(*) || CASE WHEN count(*) = 0
                                     THEN ' # SKIP ' || unit_tests._tap_escape(format('no function matching %L in schema %s', pattern, schema))
                                     ELSE '' END AS line
      FROM r
    UNION ALL
    SELECT r.i, 0, format('%sok %s - %s', CASE WHEN r.ok THEN '' ELSE 'not ' END, r.i, unit_tests._tap_escape(r.name)) FROM r
    UNION ALL
    -- Diagnostics: every line of the message (whatever ends it) as a comment line of its own.
    SELECT r.i, l.j, '# ' || l.line
      FROM r, regexp_split_to_table(r.message, E'\r\n|\r|\n') WITH ORDINALITY AS l(line, j)
     WHERE NOT r.ok
    UNION ALL
    SELECT 1e9, 0, format('# failed %s of %s', count(*) FILTER (WHERE NOT r.ok), count(*))
      FROM r HAVING count(*) FILTER (WHERE NOT r.ok) > 0) AS x
  ORDER BY x.i, x.j;
END;
COMMENT ON FUNCTION unit_tests.run_tap(text, text) IS 'unit_tests.run() rendered as TAP (for pg_prove, prove)';
