-- pg_unit_tests install script, part 20: the classic search_path recipe.
--
-- Before time control, tests shadowed now() with a function of the same name placed first on
-- search_path. These shadows are kept for code written that way; they read the same clock as
-- pg_catalog (so they follow unit_tests.freeze() where time control is enabled). They work on any
-- server, but only catch unqualified calls: time control is what reaches every clock.

CREATE FUNCTION unit_tests.now() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE RETURN pg_catalog.now();
CREATE FUNCTION unit_tests.transaction_timestamp() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE RETURN pg_catalog.transaction_timestamp();
CREATE FUNCTION unit_tests.statement_timestamp() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE RETURN pg_catalog.statement_timestamp();
CREATE FUNCTION unit_tests.clock_timestamp() RETURNS timestamptz
  LANGUAGE sql VOLATILE PARALLEL SAFE RETURN pg_catalog.clock_timestamp();
CREATE FUNCTION unit_tests.timeofday() RETURNS text
  LANGUAGE sql VOLATILE PARALLEL SAFE RETURN pg_catalog.timeofday();
COMMENT ON FUNCTION unit_tests.now() IS 'Shadow of now() for the search_path recipe';

-- Puts unit_tests first on search_path, then pg_catalog (which must be listed explicitly, or
-- PostgreSQL searches it first and the shadows never win), then the rest of the path. For the
-- session when "for" is NULL, else as the role's default (ALTER ROLE ... SET search_path).
-- Returns the new path.
-- (No SET search_path clause: the function reads and writes the caller's search_path.)
CREATE FUNCTION unit_tests.shadow_search_path("for" regrole DEFAULT NULL) RETURNS text
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  base text;
  rest text;
  path text;
BEGIN
  IF "for" IS NULL THEN
    base := pg_catalog.current_setting('search_path');
  ELSE
    SELECT pg_catalog.substr(c, 13) INTO base
      FROM pg_catalog.pg_db_role_setting AS s, pg_catalog.unnest(s.setconfig) AS c
     WHERE s.setrole = "for" AND s.setdatabase = 0 AND c LIKE 'search_path=%';
    base := coalesce(base, '"$user", public');
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.btrim(e), ', ' ORDER BY n) INTO rest
    FROM pg_catalog.unnest(pg_catalog.string_to_array(base, ',')) WITH ORDINALITY AS t(e, n)
   WHERE pg_catalog.btrim(e) NOT IN ('', 'unit_tests', '"unit_tests"', 'pg_catalog', '"pg_catalog"');
  path := 'unit_tests, pg_catalog' || coalesce(', ' || rest, '');
  IF "for" IS NULL THEN
    PERFORM pg_catalog.set_config('search_path', path, false);
  ELSE
    EXECUTE pg_catalog.format('ALTER ROLE %s SET search_path TO %s', "for", path);
  END IF;
  RETURN path;
END
$$;
COMMENT ON FUNCTION unit_tests.shadow_search_path(regrole) IS
  'Puts unit_tests (then pg_catalog) first on the session''s or a role''s search_path';
