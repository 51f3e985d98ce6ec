#!/usr/bin/env bash
# What the event trigger pg_unit_tests_foreign_objects (the guard that keeps objects out of the
# schema unit_tests) costs every DDL statement of a database, as ratios against the same server
# with the trigger disabled, measured in one run.
#
#   bench/ddl_guard.sh     (after `make`: it starts its server with the harness, ./pg_unit_tests)
#
# One server from the harness (the extension preloaded and created), four ways:
#   none       the guard disabled (ALTER EVENT TRIGGER ... DISABLE): no event trigger at all
#   guard      the guard as installed, in a session whose search_path does not hold unit_tests
#   shadowed   the guard, in a session whose path is shadowed (unit_tests, pg_catalog, public)
#   plpgsql    the guard disabled and, in its place, the first design: a PL/pgSQL function on every
#              DDL command that queries pg_event_trigger_ddl_commands()
# The transaction: BEGIN; CREATE TABLE; ALTER TABLE ADD COLUMN; CREATE TEMP TABLE; DROP TABLE (both);
# COMMIT: DDL that creates objects, DDL that does not, and a temporary table.
# Throughput: pgbench runs it (1 client), ROUNDS rounds of RUN_SECONDS-second runs whose order
# rotates every round; medians (noisy on a shared machine: the instruction counts are the figure).
# Instructions: callgrind counts every instruction of one backend (Debian's postgres is stripped:
# no function to narrow it to), under a postmaster run by valgrind (event triggers never fire in a
# single-user backend). Two sessions per way, of N1 and N2 iterations:
# the difference, divided by the transactions between them, is the cost of one transaction with
# the caches warm. Deterministic, whatever else the machine is doing; skipped without valgrind.
#
# Knobs (environment): ROUNDS (6), RUN_SECONDS (3), N1 (50), N2 (250), PGUT_CLI (the harness CLI),
# ONLY=instructions (the callgrind counts alone).
set -euo pipefail

ROUNDS=${ROUNDS:-6}
SECONDS_RUN=${RUN_SECONDS:-3}
N1=${N1:-50}
N2=${N2:-250}
here=$(cd "$(dirname "$0")/.." && pwd)
CLI=${PGUT_CLI:-$here/pg_unit_tests}
BINDIR=$("${PG_CONFIG:-pg_config}" --bindir)
SHADOWED='-csearch_path=unit_tests,pg_catalog,public'
ways=(none guard shadowed plpgsql)

if [[ ! -x $CLI ]]; then
  echo "bench/ddl_guard.sh: the harness CLI $CLI is missing: build the project first (make)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/pgut-bench.XXXXXX)
uri=""
vg_pid=""
cleanup() {
  [[ -n $vg_pid ]] && stop_valgrind
  [[ -n $uri ]] && "$CLI" stop "$uri" >/dev/null 2>&1 || true
  rm -rf "$work"
}
# The postmaster under valgrind (runuser does not pass signals on): pg_ctl finds it by its data
# directory, which this script created.
stop_valgrind() {
  "${run_as[@]}" "$BINDIR/pg_ctl" -D "$cg/data" -m fast -w stop >/dev/null 2>&1 || true
  wait "$vg_pid" 2>/dev/null || true
  vg_pid=""
}
run_as=()
cg=""
trap cleanup EXIT
trap 'exit 130' INT TERM

uri=$("$CLI" start -w 0 --create pg_unit_tests -o "-c jit=off")
echo "# bench/ddl_guard.sh: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}'), $(nproc) cores," \
  "ROUNDS=$ROUNDS RUN_SECONDS=$SECONDS_RUN N1=$N1 N2=$N2"

# The first design, for comparison: PL/pgSQL on every DDL command.
plpgsql_guard() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE SCHEMA bench_guard;
CREATE FUNCTION bench_guard.refuse() RETURNS event_trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  made record;
BEGIN
  SELECT d.command_tag, d.object_identity INTO made
    FROM pg_event_trigger_ddl_commands() AS d
   WHERE (d.schema_name = 'unit_tests' AND NOT d.in_extension
          AND (d.command_tag LIKE 'CREATE %' OR d.command_tag = 'SELECT INTO'))
      OR (d.command_tag = 'CREATE EXTENSION'
          AND EXISTS (SELECT FROM pg_extension AS e
                       WHERE e.oid = d.objid AND e.extname <> 'pg_unit_tests'
                         AND e.extnamespace = 'unit_tests'::regnamespace))
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '% % would be created in schema unit_tests', made.command_tag, made.object_identity;
  END IF;
END $$;
CREATE EVENT TRIGGER bench_guard ON ddl_command_end EXECUTE FUNCTION bench_guard.refuse();
ALTER EVENT TRIGGER bench_guard DISABLE;
SQL
}

# Enables the triggers of a way; prints the PGOPTIONS of its sessions.
use() {  # $1 uri, $2 way
  local guard=ENABLE old=DISABLE
  case $2 in
    none) guard=DISABLE ;;
    plpgsql) guard=DISABLE old=ENABLE ;;
  esac
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" \
    -c "ALTER EVENT TRIGGER pg_unit_tests_foreign_objects $guard" \
    -c "ALTER EVENT TRIGGER bench_guard $old"
  [[ $2 == shadowed ]] && echo "$SHADOWED" || echo ""
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

plpgsql_guard "$uri"
printf '%s\n' 'BEGIN;' 'CREATE TABLE public.bench_t (i int);' 'ALTER TABLE public.bench_t ADD COLUMN j int;' \
  'CREATE TEMP TABLE bench_tmp (i int);' 'DROP TABLE public.bench_t, bench_tmp;' 'COMMIT;' >"$work/ddl.sql"

if [[ ${ONLY:-} != instructions ]]; then
  declare -A tps
  "$BINDIR/pgbench" -n -f "$work/ddl.sql" -T 2 "$uri" >/dev/null 2>&1
  for ((round = 0; round < ROUNDS; round++)); do
    for ((i = 0; i < ${#ways[@]}; i++)); do
      way=${ways[(i + round) % ${#ways[@]}]}
      options=$(use "$uri" "$way")
      tps[$way]+="$(PGOPTIONS="$options" "$BINDIR/pgbench" -n -f "$work/ddl.sql" -T "$SECONDS_RUN" "$uri" 2>/dev/null |
        awk '/^tps/ {print $3}') "
    done
    echo "# pgbench round $((round + 1))/$ROUNDS done" >&2
  done
  echo
  echo "## pgbench: the DDL transaction (1 client, $ROUNDS rounds of ${SECONDS_RUN}s," \
    "order rotated), median tps (ratio to none)"
  base=$(echo "${tps[none]}" | median)
  for way in "${ways[@]}"; do
    m=$(echo "${tps[$way]}" | median)
    printf '%-10s %10.0f (%.3f)   runs: %s\n' "$way" "$m" "$(echo "$m / $base" | bc -l)" "${tps[$way]}"
  done
fi

if command -v valgrind >/dev/null 2>&1; then
  info=$(psql -X -At -d "$uri" -c "SELECT setting FROM pg_settings WHERE name = 'data_directory'")
  bin=$(readlink "/proc/$(head -1 "$info/postmaster.pid")/exe")
  tmpl=""
  for t in "$(dirname "$(dirname "$(dirname "$info")")")"/cache/tmpl-*.json; do
    grep -q '"locale":"C.UTF-8"' "$t" && tmpl=${t%.json} && break
  done
  owner=$(stat -c %U "$tmpl")
  chmod 755 "$work"
  cg="$work/callgrind"
  mkdir -p "$cg"
  cp -a "$tmpl" "$cg/data"
  chown -R "$owner" "$cg"
  [[ $(id -u) -eq 0 ]] && run_as=(runuser -u "$owner" --)
  "${run_as[@]}" valgrind --tool=callgrind \
    --callgrind-out-file="$cg/cg.%p" "$bin" -D "$cg/data" -k "$cg" -c listen_addresses= \
    -c port=5499 -c jit=off -c autovacuum=off -c fsync=off \
    -c shared_preload_libraries=pg_unit_tests -c pg_unit_tests.time_control=on \
    >"$cg/server.log" 2>&1 &
  vg_pid=$!
  vg_uri="postgresql:///postgres?host=$cg&port=5499&user=postgres"
  for ((i = 0; i < 600; i++)); do
    psql -X -q -d "$vg_uri" -c "SELECT 1" >/dev/null 2>&1 && break
    kill -0 "$vg_pid" 2>/dev/null || { cat "$cg/server.log" >&2; exit 1; }
    sleep 0.5
  done
  psql -X -q -v ON_ERROR_STOP=1 -d "$vg_uri" -c "CREATE EXTENSION pg_unit_tests" >/dev/null
  plpgsql_guard "$vg_uri"
  # One session of n iterations of the transaction above; prints the instructions of its backend.
  session() {  # way, PGOPTIONS, n
    local pid
    pid=$({
      echo "SELECT pg_backend_pid();"
      for ((k = 0; k < $3; k++)); do cat "$work/ddl.sql"; done
    } | PGOPTIONS="$2" psql -X -q -At -v ON_ERROR_STOP=1 -d "$vg_uri" | head -1)
    # The backend writes its profile when it exits.
    for ((k = 0; k < 600; k++)); do
      [[ -s $cg/cg.$pid ]] && ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.2
    done
    awk '/^(summary|totals):/ {print $2; exit}' "$cg/cg.$pid"
  }
  declare -A ir
  for way in "${ways[@]}"; do
    options=$(use "$vg_uri" "$way")
    first=$(session "$way" "$options" "$N1")
    second=$(session "$way" "$options" "$N2")
    ir[$way]=$(echo "($second - $first) / ($N2 - $N1)" | bc -l)
  done
  echo
  echo "## instructions (callgrind, whole backend) per DDL transaction (ratio to none)"
  for way in "${ways[@]}"; do
    printf '%-10s %10.0f (%.4f)\n' "$way" "${ir[$way]}" "$(echo "${ir[$way]} / ${ir[none]}" | bc -l)"
  done
  stop_valgrind
else
  echo "(valgrind not installed: no instruction counts)"
fi
