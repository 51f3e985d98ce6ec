-- pg_unit_tests install script, part 10: time control.
--
-- Works only on a server started with shared_preload_libraries = 'pg_unit_tests' and
-- pg_unit_tests.time_control = on; elsewhere each call fails with a hint on how to enable it.
-- A session's own clock is two settings, pg_unit_tests.frozen_at and pg_unit_tests.time_offset,
-- written like SET: it lasts for the session, is undone by ROLLBACK, and is scoped by a function's
-- SET clause. Both settings are PGC_SUSET: superusers, and roles allowed with
-- grant_time_control(), may change them, through these functions or directly (SET, ALTER ROLE ...
-- SET, PGOPTIONS). The same privilege moves the clock of a database the role may connect to;
-- only superusers move the server's clock.

-- Every role may call the API (the privilege checks are the settings' own, see below).
GRANT USAGE ON SCHEMA unit_tests TO PUBLIC;

-- scope: 'session' (this session's own clock, a setting: transactional), 'database' (every
-- session of a database: "database" names it, default the current one) or 'server' (every
-- session of the server). Database and server clocks live in shared memory, are seen by every
-- session at its next statement, and are not undone by ROLLBACK. A session's own clock wins over
-- its database's, which wins over the server's.
CREATE FUNCTION unit_tests.freeze("at" timestamptz DEFAULT now(), scope text DEFAULT 'session',
                                  "database" name DEFAULT NULL)
  RETURNS timestamptz
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_freeze';
COMMENT ON FUNCTION unit_tests.freeze(timestamptz, text, name) IS
  'Stops the clock of this session (or of a database, or of the server) at "at" '
  '(default: the current transaction time)';

CREATE FUNCTION unit_tests.travel("to" timestamptz, scope text DEFAULT 'session',
                                  "database" name DEFAULT NULL)
  RETURNS timestamptz
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_travel';
COMMENT ON FUNCTION unit_tests.travel(timestamptz, text, name) IS
  'Moves the clock (of this session, a database or the server) to "to"; it keeps running from there';

CREATE FUNCTION unit_tests.advance("by" interval, scope text DEFAULT 'session',
                                   "database" name DEFAULT NULL)
  RETURNS timestamptz
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_advance';
COMMENT ON FUNCTION unit_tests.advance(interval, text, name) IS
  'Moves a frozen or travelled clock by "by"; returns the new now()';

CREATE FUNCTION unit_tests.unfreeze(scope text DEFAULT 'session', "database" name DEFAULT NULL)
  RETURNS void
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_unfreeze';
COMMENT ON FUNCTION unit_tests.unfreeze(text, name) IS
  'Releases a clock: this session''s own (it then follows its database''s or the server''s '
  'clock, else real time), a database''s or the server''s';

CREATE FUNCTION unit_tests.time_status(
    OUT mode text, OUT frozen_at timestamptz, OUT time_offset interval, OUT enabled boolean,
    OUT source text)
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgut_time_status';
COMMENT ON FUNCTION unit_tests.time_status() IS
  'This session''s clock: mode (real, frozen, travelled), the frozen instant or the offset, '
  'whether this server enables time control, and where the clock comes from';

CREATE FUNCTION unit_tests.is_frozen() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN (SELECT s.mode = 'frozen' FROM unit_tests.time_status() AS s);
COMMENT ON FUNCTION unit_tests.is_frozen() IS 'True while this session''s time stands still';

-- Who sees which clock: the server and database clocks, and every session whose clock is not
-- real (as its next statement will see it). For roles that control time (checked by _clocks).
CREATE FUNCTION unit_tests._clocks(
    OUT kind text, OUT pid integer, OUT datid oid, OUT mode text, OUT frozen_at timestamptz,
    OUT time_offset interval, OUT source text, OUT changed_at timestamptz, OUT changed_by oid)
  RETURNS SETOF record
  LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgut_clocks';

CREATE VIEW unit_tests.clocks AS
  SELECT c.kind, c.pid, d.datname AS database, a.usename, a.application_name, c.mode,
         c.frozen_at, c.time_offset, c.source, c.changed_at, r.rolname AS changed_by
    FROM unit_tests._clocks() AS c
    LEFT JOIN pg_catalog.pg_database AS d ON d.oid OPERATOR(pg_catalog.=) c.datid
    LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid OPERATOR(pg_catalog.=) c.pid
    LEFT JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) c.changed_by;
COMMENT ON VIEW unit_tests.clocks IS
  'The server and database clocks, and the sessions whose clock is mocked (pid, database, user, '
  'application, mode, instant or offset, and where it comes from)';
GRANT SELECT ON unit_tests.clocks TO PUBLIC;

-- Allowing a role to control time. The settings are PGC_SUSET, so the privilege is PostgreSQL's
-- own SET privilege on the two parameters (pg_parameter_acl, cluster-wide); it also covers SET,
-- ALTER ROLE ... SET and PGOPTIONS. Only superusers may grant it.
CREATE FUNCTION unit_tests.grant_time_control("to" regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF "to" IS NULL THEN
    RAISE EXCEPTION 'unit_tests.grant_time_control: the role must not be NULL';
  END IF;
  EXECUTE format('GRANT SET ON PARAMETER pg_unit_tests.frozen_at, pg_unit_tests.time_offset TO %s',
                 "to");
END
$$;
COMMENT ON FUNCTION unit_tests.grant_time_control(regrole) IS
  'Allows a role to control time (GRANT SET on the two clock settings); superusers only';

CREATE FUNCTION unit_tests.revoke_time_control("from" regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF "from" IS NULL THEN
    RAISE EXCEPTION 'unit_tests.revoke_time_control: the role must not be NULL';
  END IF;
  EXECUTE format('REVOKE SET ON PARAMETER pg_unit_tests.frozen_at, pg_unit_tests.time_offset FROM %s',
                 "from");
END
$$;
COMMENT ON FUNCTION unit_tests.revoke_time_control(regrole) IS
  'Takes back grant_time_control(); superusers only';

REVOKE ALL ON FUNCTION unit_tests.grant_time_control(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION unit_tests.revoke_time_control(regrole) FROM PUBLIC;
