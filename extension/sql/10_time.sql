-- pg_unit_tests install script, part 10: time control.
--
-- Works only on a server started with shared_preload_libraries = 'pg_unit_tests' and
-- pg_unit_tests.time_control = on; elsewhere each call fails with a hint on how to enable it.
-- The state is two settings, pg_unit_tests.frozen_at and pg_unit_tests.time_offset, written like
-- SET: it lasts for the session, is undone by ROLLBACK, and is scoped by a function's SET clause.
-- Both settings are PGC_SUSET: superusers, and roles allowed with grant_time_control(), may
-- change them, through these functions or directly (SET, ALTER ROLE ... SET, PGOPTIONS).

-- Every role may call the API (the privilege checks are the settings' own, see below).
GRANT USAGE ON SCHEMA unit_tests TO PUBLIC;

CREATE FUNCTION unit_tests.freeze("at" timestamptz DEFAULT now()) RETURNS timestamptz
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_freeze';
COMMENT ON FUNCTION unit_tests.freeze(timestamptz) IS
  'Stops every clock of this session at "at" (default: the current transaction time)';

CREATE FUNCTION unit_tests.travel("to" timestamptz) RETURNS timestamptz
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_travel';
COMMENT ON FUNCTION unit_tests.travel(timestamptz) IS
  'Moves this session''s clocks to "to"; they keep running from there';

CREATE FUNCTION unit_tests.advance("by" interval) RETURNS timestamptz
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_advance';
COMMENT ON FUNCTION unit_tests.advance(interval) IS
  'Moves a frozen or travelled clock by "by"; returns the new now()';

CREATE FUNCTION unit_tests.unfreeze() RETURNS void
  LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgut_unfreeze';
COMMENT ON FUNCTION unit_tests.unfreeze() IS 'Returns this session''s clocks to real time';

CREATE FUNCTION unit_tests.time_status(
    OUT mode text, OUT frozen_at timestamptz, OUT time_offset interval, OUT enabled boolean)
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgut_time_status';
COMMENT ON FUNCTION unit_tests.time_status() IS
  'This session''s clock: mode (real, frozen, travelled), the frozen instant or the offset, '
  'and whether this server enables time control';

CREATE FUNCTION unit_tests.is_frozen() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN (SELECT s.mode = 'frozen' FROM unit_tests.time_status() AS s);
COMMENT ON FUNCTION unit_tests.is_frozen() IS 'True while this session''s time stands still';

-- Allowing a role to control time. The settings are PGC_SUSET, so the privilege is PostgreSQL's
-- own SET privilege on the two parameters (pg_parameter_acl, cluster-wide); it also covers SET,
-- ALTER ROLE ... SET and PGOPTIONS. Only superusers may grant it.
CREATE FUNCTION unit_tests.grant_time_control("to" regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog
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
  SET search_path = pg_catalog
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
