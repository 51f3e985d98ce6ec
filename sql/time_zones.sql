-- 'today', 'tomorrow', 'yesterday', 'now' and the SQL keywords for a frozen instant, in zones
-- with daylight saving time (the days around each change), half-hour and odd offsets, local mean
-- time before 1900, before Christ and at the ends of the range: each compared with the same value
-- computed from now() with PostgreSQL's own time zone arithmetic. Every mismatch is a row.
SET datestyle = 'ISO, YMD';
CREATE FUNCTION pg_temp.zone_mismatches() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  tz text; t timestamptz; w text; d date; n int := 0; got text; want text;
BEGIN
  FOREACH tz IN ARRAY ARRAY['UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe',
      'Pacific/Chatham', 'Asia/Kolkata', 'Europe/Amsterdam', 'America/St_Johns',
      'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'America/Sao_Paulo'] LOOP
    PERFORM set_config('TimeZone', tz, false);
    FOREACH t IN ARRAY ARRAY['2024-03-10 06:59:59.999999+00', '2024-03-10 07:00:00+00',
        '2024-03-10 04:30:00.5+00', '2024-11-03 05:30:00+00', '2024-11-03 06:30:00+00',
        '2024-03-31 00:30:00+00', '2024-03-31 01:30:00+00', '2024-10-27 00:30:00+00',
        '2024-10-27 01:30:00+00', '2024-04-06 14:45:00+00', '2024-10-05 15:30:00+00',
        '1850-06-01 23:50:00+00', '1900-01-01 00:00:00.25+00', '0044-03-15 12:00:00+00 BC',
        '4713-11-25 12:00:00+00 BC', '294276-12-31 12:00:00+00', '1999-12-31 23:59:59.999999+00',
        '2000-01-01 00:00:00+00', '1970-01-01 00:00:00+00', '2011-12-29 10:30:00+00',
        '2011-12-30 10:30:00+00']::timestamptz[] LOOP
      PERFORM unit_tests.freeze(t);
      BEGIN  -- (days outside the range in this zone are skipped)
        d := (t AT TIME ZONE tz)::date;
        PERFORM (d + 1)::timestamp AT TIME ZONE tz, (d - 1)::timestamp AT TIME ZONE tz;
      EXCEPTION WHEN datetime_field_overflow THEN CONTINUE;
      END;
      FOREACH w IN ARRAY ARRAY['today', 'tomorrow', 'yesterday', 'today 02:30', 'tomorrow 01:30',
          'yesterday 23:59:59.5', 'now'] LOOP
        n := n + 1;
        -- (text cast at run time: a literal in PL/pgSQL is fixed when the statement is prepared)
        got := (w::text)::timestamptz::text;
        want := CASE w
          WHEN 'today' THEN (d::timestamp AT TIME ZONE tz)::text
          WHEN 'tomorrow' THEN ((d + 1)::timestamp AT TIME ZONE tz)::text
          WHEN 'yesterday' THEN ((d - 1)::timestamp AT TIME ZONE tz)::text
          WHEN 'today 02:30' THEN ((d + '02:30'::time) AT TIME ZONE tz)::text
          WHEN 'tomorrow 01:30' THEN (((d + 1) + '01:30'::time) AT TIME ZONE tz)::text
          WHEN 'yesterday 23:59:59.5' THEN (((d - 1) + '23:59:59.5'::time) AT TIME ZONE tz)::text
          WHEN 'now' THEN now()::text END;
        IF got IS DISTINCT FROM want THEN
          RETURN NEXT format('timestamptz %s %s %s: %s, expected %s', tz, t, w, got, want);
        END IF;
        got := (w::text)::timestamp::text;
        want := CASE w
          WHEN 'now' THEN (t AT TIME ZONE tz)::text
          WHEN 'today' THEN d::timestamp::text
          WHEN 'tomorrow' THEN (d + 1)::timestamp::text
          WHEN 'yesterday' THEN (d - 1)::timestamp::text
          WHEN 'today 02:30' THEN (d + '02:30'::time)::text
          WHEN 'tomorrow 01:30' THEN ((d + 1) + '01:30'::time)::text
          WHEN 'yesterday 23:59:59.5' THEN ((d - 1) + '23:59:59.5'::time)::text END;
        IF got IS DISTINCT FROM want THEN
          RETURN NEXT format('timestamp %s %s %s: %s, expected %s', tz, t, w, got, want);
        END IF;
      END LOOP;
      IF ('today'::text)::date IS DISTINCT FROM d OR ('tomorrow'::text)::date IS DISTINCT FROM d + 1
         OR ('yesterday'::text)::date IS DISTINCT FROM d - 1 OR CURRENT_DATE IS DISTINCT FROM d THEN
        RETURN NEXT format('date %s %s: %s %s', tz, t, ('today'::text)::date, CURRENT_DATE);
      END IF;
      IF ('now'::text)::time IS DISTINCT FROM (t AT TIME ZONE tz)::time
         OR LOCALTIME IS DISTINCT FROM (t AT TIME ZONE tz)::time
         OR LOCALTIMESTAMP IS DISTINCT FROM t AT TIME ZONE tz THEN
        RETURN NEXT format('time %s %s: %s %s %s', tz, t, ('now'::text)::time, LOCALTIME, LOCALTIMESTAMP);
      END IF;
      IF ('now'::text)::timetz::text IS DISTINCT FROM t::timetz::text
         OR CURRENT_TIME::text IS DISTINCT FROM t::timetz::text THEN
        RETURN NEXT format('timetz %s %s: %s %s, expected %s', tz, t, ('now'::text)::timetz, CURRENT_TIME, t::timetz);
      END IF;
      IF t >= '0001-01-01 00:00:00+00'
         AND timeofday() IS DISTINCT FROM to_char(t, 'Dy Mon DD HH24:MI:SS.US YYYY TZ') THEN
        RETURN NEXT format('timeofday %s %s: %s', tz, t, timeofday());
      END IF;
    END LOOP;
  END LOOP;
  PERFORM unit_tests.unfreeze();
  RETURN NEXT format('%s words checked', n);
END
$$;
SELECT * FROM pg_temp.zone_mismatches();
RESET TimeZone;
RESET datestyle;
