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

-- The schema names of a search_path value, as PostgreSQL reads them (SplitIdentifierString): a
-- double-quoted name keeps its case and may hold commas, spaces and doubled quotes; any other is
-- folded to lower case ASCII. "$user" stays a name ("$user").
CREATE FUNCTION unit_tests._search_path_names(path text) RETURNS text[]
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
RETURN (SELECT array_agg(CASE WHEN m[1] LIKE '"%' THEN replace(substr(m[1], 2, length(m[1]) - 2), '""', '"')
                              ELSE lower(m[1] COLLATE "C") END ORDER BY n)
          FROM regexp_matches(path, '\s*("(?:[^"]|"")*"|[^\s,"][^\s,]*)\s*(?:,|$)', 'g') WITH ORDINALITY AS t(m, n));

-- A search_path with unit_tests first, then pg_catalog (which must be listed explicitly, or
-- PostgreSQL searches it first and the shadows never win), then the rest of path. Every name is
-- quoted as needed: the result is one value, whatever the names hold.
CREATE FUNCTION unit_tests._shadowed_path(path text) RETURNS text
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
RETURN concat_ws(', ', 'unit_tests', 'pg_catalog',
                 (SELECT string_agg(quote_ident(t.name), ', ' ORDER BY t.n)
                    FROM unnest(unit_tests._search_path_names(path)) WITH ORDINALITY AS t(name, n)
                   WHERE t.name NOT IN ('unit_tests', 'pg_catalog')));

-- The role's default search_path (ALTER ROLE ... SET, for every database), shadowed.
CREATE FUNCTION unit_tests._shadow_role_path(target regrole) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  stored text := (SELECT substr(c, length('search_path=') + 1)
                    FROM pg_db_role_setting AS s, unnest(s.setconfig) AS c
                   WHERE s.setrole = target AND s.setdatabase = 0 AND c LIKE 'search_path=%');
  path text := unit_tests._shadowed_path(coalesce(stored, '"$user", public'));
BEGIN
  -- path is a list of quoted names: it cannot end the statement or start another.
  EXECUTE format('ALTER ROLE %I SET search_path TO %s', (SELECT r.rolname FROM pg_roles AS r WHERE r.oid = target), path);
  RETURN path;
END
$$;

-- Puts unit_tests first on search_path, then pg_catalog, then the rest of the path. For the
-- session when "for" is NULL, else as the role's default (ALTER ROLE ... SET search_path).
-- Returns the new path. (A body bound when the extension is created and no SET clause: it reads
-- and sets the caller's search_path.)
CREATE FUNCTION unit_tests.shadow_search_path("for" regrole DEFAULT NULL) RETURNS text
  LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT CASE WHEN "for" IS NULL
              THEN pg_catalog.set_config('search_path',
                                         unit_tests._shadowed_path(pg_catalog.current_setting('search_path')), false)
              ELSE unit_tests._shadow_role_path("for") END;
END;
COMMENT ON FUNCTION unit_tests.shadow_search_path(regrole) IS
  'Puts unit_tests (then pg_catalog) first on the session''s or a role''s search_path';

-- With unit_tests first on the path, an unqualified CREATE would make the object in unit_tests (for
-- a role allowed to: superusers), where nobody looks for it (and DROP EXTENSION leaves it behind,
-- with the schema). So would CREATE EXTENSION of a relocatable extension without SCHEMA: its
-- script's commands are in_extension, but not ours. The event trigger refuses any object created
-- in unit_tests, other than by an extension's script, while unit_tests is on the search_path, with
-- the fix in the hint. It fires for the commands that create objects only, and its C function
-- (extension/src/search_path/guard.cpp) returns at once unless unit_tests is on the path: every
-- DDL statement of the database pays for it.

-- The objects of the current command that landed in unit_tests (the first one), for the event
-- trigger; pg_event_trigger_ddl_commands() works only while one runs.
CREATE FUNCTION unit_tests._foreign_objects(OUT command_tag text, OUT object_identity text)
  RETURNS SETOF record
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT d.command_tag, d.object_identity
    FROM pg_event_trigger_ddl_commands() AS d
   WHERE (d.schema_name = 'unit_tests' AND NOT d.in_extension
          AND (d.command_tag LIKE 'CREATE %' OR d.command_tag = 'SELECT INTO'))
      OR (d.command_tag = 'CREATE EXTENSION'
          AND EXISTS (SELECT FROM pg_extension AS e
                       WHERE e.oid = d.objid AND e.extname <> 'pg_unit_tests'
                         AND e.extnamespace = 'unit_tests'::regnamespace))
   LIMIT 1
$$;

CREATE FUNCTION unit_tests._refuse_foreign_objects() RETURNS event_trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'pgut_refuse_foreign_objects';
-- Every command tag that makes an object in a schema (ALTER ... SET SCHEMA moves one there: that
-- names unit_tests, and is taken as meant).
CREATE EVENT TRIGGER pg_unit_tests_foreign_objects ON ddl_command_end
  WHEN TAG IN ('CREATE AGGREGATE', 'CREATE COLLATION', 'CREATE CONVERSION', 'CREATE DOMAIN',
               'CREATE EXTENSION', 'CREATE FOREIGN TABLE', 'CREATE FUNCTION', 'CREATE INDEX',
               'CREATE MATERIALIZED VIEW', 'CREATE OPERATOR', 'CREATE OPERATOR CLASS',
               'CREATE OPERATOR FAMILY', 'CREATE PROCEDURE', 'CREATE SCHEMA', 'CREATE SEQUENCE',
               'CREATE STATISTICS', 'CREATE TABLE', 'CREATE TABLE AS', 'CREATE TEXT SEARCH CONFIGURATION',
               'CREATE TEXT SEARCH DICTIONARY', 'CREATE TEXT SEARCH PARSER',
               'CREATE TEXT SEARCH TEMPLATE', 'CREATE TYPE', 'CREATE VIEW', 'IMPORT FOREIGN SCHEMA',
               'SELECT INTO')
  EXECUTE FUNCTION unit_tests._refuse_foreign_objects();
