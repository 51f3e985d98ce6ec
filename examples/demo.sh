#!/usr/bin/env bash
# `make demo`: a tour of pg_unit_tests on ephemeral servers that the harness starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."
pgut=./pg_unit_tests
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "1. A throw-away PostgreSQL server: 'pg_unit_tests start' prints its URI"
start=$(date +%s%N)
uri=$($pgut start --idle-timeout 30)
echo "$uri   ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
psql -X "$uri" -c "SELECT version()"

say "2. Time control: the extension pg_unit_tests is preloaded, every clock obeys"
psql -X "$uri" <<'SQL'
CREATE EXTENSION pg_unit_tests;
CREATE TABLE orders (id int, created timestamptz DEFAULT now());
SELECT unit_tests.freeze('2030-01-01 12:00:00+00');
INSERT INTO orders (id) VALUES (1);
SELECT now(), CURRENT_TIMESTAMP, clock_timestamp(), (SELECT created FROM orders) AS created;
SELECT unit_tests.advance('1 day');
SELECT now();
SELECT unit_tests.unfreeze();
SELECT now() > '2030-01-01' AS frozen_still;
SQL

say "3. A whole database's clock: every session follows at its next statement (a connection pool)"
psql -X "$uri" <<SQL
SELECT now() AS before;
\\! $pgut clock freeze 2030-06-01T09:00:00Z --uri '$uri'
SELECT now() AS same_session_next_statement, CURRENT_DATE;
\\! $pgut clock advance '1 hour' --uri '$uri'
\\! $pgut clock list --uri '$uri'
SELECT now() AS an_hour_later;
\\! $pgut clock release --uri '$uri'
SELECT now() > '2030-01-01' AS frozen_still;
SQL
$pgut stop "$uri"
echo "stopped: no process, socket or file is left"

say "4. Any test runner, any language: 'pg_unit_tests exec -- COMMAND' sets PGHOST, DATABASE_URL ..."
$pgut exec -- sh -c 'echo "DATABASE_URL=$DATABASE_URL"; psql -XAtc "SELECT 40 + 2 AS answer"'

say "5. Over TCP on 127.0.0.1 with a random password, as JSON"
$pgut exec --tcp -- sh -c 'echo "PGHOST=$PGHOST PGPORT=$PGPORT PGPASSWORD=$PGPASSWORD"'

say "6. Frozen from the start, without SQL: 'start --freeze'"
$pgut exec --freeze '2001-02-03 04:05:06+00' -- psql -XAtc "SELECT now()"

say "7. The cache that makes it fast"
$pgut cache status
