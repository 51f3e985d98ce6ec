-- Data snapshots of tables whose schema, table and column names are those of the aliases, keywords
-- and internal names the generated statements use: none of them may be taken for one of ours.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_unit_tests;
RESET client_min_messages;
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA "We ird";
SET search_path = "We ird", public;

-- A composite type named like an alias, with fields named like our columns.
CREATE TYPE r AS (r int, data text, key text);
-- Every alias, column and CTE name of the generated statements as a column; keywords, case,
-- spaces, dots, quotes and unicode; a text column holding what looks like a row literal.
CREATE TABLE "tab le" (
  x text, t int, q r, r text, "row" int, data text, oid int, live int, restored int, gone int,
  back int, recorded text, forgotten int, key text, id int, w int, g int, snapshot int, relid int,
  row_ctid text, row_xmin text, "Mixed Case" text, "with space" text, "a.b" text, """q""" text,
  "ünïcödé" text, "select" int, "from" text);
-- Tables named like the aliases (the statements on one must not read another).
CREATE TABLE x (x int, live int);
CREATE TABLE live (live text, "x" text);
CREATE TABLE gone (gone int, id int, data text);
CREATE TABLE q (q r, r r);
CREATE TABLE restored (restored text);

INSERT INTO "tab le" SELECT '(hello,1)', i, ROW(i, 'd' || i, 'k')::r, '(1,2)', i, 'data', i, i, i, i, i,
                            'recorded', i, 'key', i, i, i, i, i, '(0,1)', '1', 'M', 's p', 'a.b', '"',
                            'ü', i, 'f'
  FROM generate_series(1, 5) AS i;
INSERT INTO "tab le" (t) VALUES (NULL), (6);  -- a row of NULLs (x NULL broke snapshot())
INSERT INTO x VALUES (1, 2), (NULL, NULL);
INSERT INTO live VALUES ('(live)', '("x")');
INSERT INTO gone VALUES (1, 2, '(3)');
INSERT INTO q VALUES (ROW(1, 'a', 'b'), ROW(2, '(c,d)', NULL)), (NULL, NULL);
INSERT INTO restored VALUES ('(a,b)'), (NULL);

SELECT unit_tests.snapshot('names', ARRAY['We ird']);
SELECT count(*) AS stored_rows_that_are_not_whole_rows FROM unit_tests._snapshot_rows AS w
 WHERE w.data NOT LIKE '(%)';

CREATE TEMP TABLE saved AS
  SELECT 'tab le' AS tab, (t.*)::text AS row FROM "tab le" AS t
  UNION ALL SELECT 'x', (t.*)::text FROM x AS t
  UNION ALL SELECT 'live', (t.*)::text FROM live AS t
  UNION ALL SELECT 'gone', (t.*)::text FROM gone AS t
  UNION ALL SELECT 'q', (t.*)::text FROM q AS t
  UNION ALL SELECT 'restored', (t.*)::text FROM restored AS t;
CREATE FUNCTION pg_temp.differences() RETURNS bigint LANGUAGE sql AS $$
  WITH now AS (
    SELECT 'tab le' AS tab, (t.*)::text AS row FROM "We ird"."tab le" AS t
    UNION ALL SELECT 'x', (t.*)::text FROM "We ird".x AS t
    UNION ALL SELECT 'live', (t.*)::text FROM "We ird".live AS t
    UNION ALL SELECT 'gone', (t.*)::text FROM "We ird".gone AS t
    UNION ALL SELECT 'q', (t.*)::text FROM "We ird".q AS t
    UNION ALL SELECT 'restored', (t.*)::text FROM "We ird".restored AS t)
  SELECT count(*) FROM ((TABLE saved EXCEPT ALL TABLE now) UNION ALL (TABLE now EXCEPT ALL TABLE saved)) AS d
$$;

-- Rows changed, deleted and added in every table: restored at the logged ctids.
UPDATE "tab le" SET x = 'changed', r = NULL WHERE t <= 2;
DELETE FROM "tab le" WHERE t = 3 OR t IS NULL;
INSERT INTO "tab le" (t, x) VALUES (100, '(new,row)');
UPDATE x SET x = x + 1;
DELETE FROM live;
UPDATE gone SET data = NULL;
UPDATE q SET r = NULL;
INSERT INTO restored VALUES ('(x)');
SELECT pg_temp.differences() > 0 AS changed;
SELECT unit_tests.restore('names') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;

-- Rewritten tables: replaced whole.
TRUNCATE "tab le", x, q;
SELECT unit_tests.restore('names') AS tables_rewritten;
SELECT pg_temp.differences() AS differences;
SELECT unit_tests.restore('names') AS tables_rewritten;

-- The statements restore() and snapshot() generate for that table.
\pset format unaligned
\pset tuples_only on
SELECT unit_tests._snapshot_sql_record('"We ird"."tab le"');
SELECT unit_tests._snapshot_sql_delete('"We ird"."tab le"');
SELECT unit_tests._snapshot_sql_insert('"We ird"."tab le"', c.names, c.fields)
  FROM unit_tests._snapshot_column_lists('"We ird"."tab le"'::regclass) AS c;
SELECT unit_tests._snapshot_sql_reload('"We ird"."tab le"', c.names, c.fields)
  FROM unit_tests._snapshot_column_lists('"We ird"."tab le"'::regclass) AS c;
-- A table without columns.
CREATE TABLE "We ird".empty ();
SELECT unit_tests._snapshot_sql_insert('"We ird".empty', c.names, c.fields)
  FROM unit_tests._snapshot_column_lists('"We ird".empty'::regclass) AS c;
\pset format aligned
\pset tuples_only off

SELECT unit_tests.drop_snapshot('names');
DROP SCHEMA "We ird" CASCADE;
RESET search_path;
