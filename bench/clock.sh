#!/usr/bin/env bash
# The cost of time control, measured in one run, as ratios against a stock server.
#
#   bench/clock.sh            (after `make HARNESS=no`; uses ./pg_unit_tests.so of the build tree)
#
# One throw-away cluster, restarted in two configurations:
#   stock    no extension loaded
#   loaded   shared_preload_libraries = pg_unit_tests, pg_unit_tests.time_control = on
# and four ways of reading the clock:
#   stock          the stock server
#   loaded-idle    the loaded server, time real (the state of every session that never freezes)
#   frozen         the loaded server, sessions frozen (PGOPTIONS=-cpg_unit_tests.frozen_at=...)
#   plpgsql-shadow the old recipe on the stock server: a plpgsql shadow.now() first on search_path,
#                  returning a frozen instant kept in a custom setting (CURRENT_TIMESTAMP has no
#                  shadow: the recipe cannot reach it)
# Clock cost: pgbench runs `SELECT count(<clock>) FROM generate_series(1, ROWS)` (the clock is
# evaluated once per row); rounds alternate between configurations and the median latency counts.
# Throughput: pgbench -S (select-only, simple protocol, 1 client) against stock and loaded-idle.
#
# Knobs (environment): ROWS (1000000), ROUNDS (5), TX (5 transactions per clock measurement),
# SECONDS_S (10 seconds per pgbench -S run), SCALE (10), PGUT_LIB (the .so to preload).
# Servers run as the `postgres` user when started as root (PostgreSQL refuses root); the cluster
# lives in a temporary directory that is removed on exit, whatever happens.
set -euo pipefail

ROWS=${ROWS:-1000000}
ROUNDS=${ROUNDS:-5}
TX=${TX:-5}
SECONDS_S=${SECONDS_S:-10}
SCALE=${SCALE:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
LIB=${PGUT_LIB:-$here/pg_unit_tests.so}
BINDIR=$("${PG_CONFIG:-pg_config}" --bindir)
FROZEN='2020-02-02T02:02:02Z'

if [[ ! -r $LIB ]]; then
  echo "bench/clock.sh: $LIB not found: build the extension first (make HARNESS=no)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/pgut-bench.XXXXXX)
as_owner=()
if [[ $(id -u) == 0 ]]; then
  chown postgres: "$work"
  as_owner=(runuser -u postgres --)
fi
chmod 700 "$work"
# A private copy of the library: rebuilding the tree during the run must not change what is measured.
install -m 755 "$LIB" "$work/pg_unit_tests.so"
LIB=$work/pg_unit_tests.so
port=$((20000 + RANDOM % 20000))
data=$work/data
started=no

cleanup() {
  if [[ $started == yes ]]; then
    "${as_owner[@]}" "$BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg() { "${as_owner[@]}" env PGHOST="$work" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres "$@"; }

start_server() {  # $1: stock | loaded
  local opts="-c port=$port -c unix_socket_directories=$work -c listen_addresses='' -c jit=off"
  opts+=" -c shared_buffers=256MB -c max_parallel_workers_per_gather=0"
  if [[ $1 == loaded ]]; then
    opts+=" -c shared_preload_libraries=$LIB -c pg_unit_tests.time_control=on"
  fi
  if [[ $started == yes ]]; then
    "${as_owner[@]}" "$BINDIR/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    started=no
  fi
  "${as_owner[@]}" "$BINDIR/pg_ctl" -D "$data" -l "$work/log" -o "$opts" -w start >/dev/null
  started=yes
  current=$1
}

echo "# bench/clock.sh: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}'), $(nproc) cores," \
  "ROWS=$ROWS ROUNDS=$ROUNDS TX=$TX SECONDS_S=$SECONDS_S SCALE=$SCALE"
"${as_owner[@]}" "$BINDIR/initdb" -D "$data" -A trust -U postgres >/dev/null

start_server stock
pg psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.now() RETURNS timestamptz LANGUAGE plpgsql STABLE AS \$\$
BEGIN
  RETURN coalesce(nullif(current_setting('shadow.frozen_at', true), '')::timestamptz,
                  pg_catalog.now());
END \$\$;
CREATE FUNCTION shadow.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS \$\$
BEGIN
  RETURN coalesce(nullif(current_setting('shadow.frozen_at', true), '')::timestamptz,
                  pg_catalog.clock_timestamp());
END \$\$;
SQL
pg "$BINDIR/pgbench" -i -q -s "$SCALE" >/dev/null 2>&1

clocks=("now()" "CURRENT_TIMESTAMP" "clock_timestamp()")
declare -A samples  # "<config>|<clock>" -> latencies (ms), space separated

# Median latency (ms) of TX runs of `SELECT count(<clock>) ...` in one session.
measure() {  # $1 pgoptions, $2 clock
  local script=$work/q.sql
  echo "SELECT count($2) FROM generate_series(1, $ROWS);" | "${as_owner[@]}" tee "$script" >/dev/null
  pg env PGOPTIONS="$1" "$BINDIR/pgbench" -n -t "$TX" -f "$script" 2>/dev/null |
    awk '/latency average/ {print $4}'
}

for ((round = 1; round <= ROUNDS; round++)); do
  for config in stock loaded; do
    start_server "$config"
    for clock in "${clocks[@]}"; do
      if [[ $config == stock ]]; then
        samples["stock|$clock"]+="$(measure "" "$clock") "
        if [[ $clock != CURRENT_TIMESTAMP ]]; then
          samples["plpgsql-shadow|$clock"]+="$(measure "-csearch_path=shadow,pg_catalog -cshadow.frozen_at=$FROZEN" "$clock") "
        fi
      else
        samples["loaded-idle|$clock"]+="$(measure "" "$clock") "
        samples["frozen|$clock"]+="$(measure "-cpg_unit_tests.frozen_at=$FROZEN" "$clock") "
      fi
    done
  done
  echo "# round $round/$ROUNDS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo
echo "## clock cost: SELECT count(<clock>) FROM generate_series(1, $ROWS), median ms (ratio to stock)"
printf '%-20s %18s %18s %18s %18s\n' clock stock loaded-idle frozen plpgsql-shadow
for clock in "${clocks[@]}"; do
  base=$(echo "${samples["stock|$clock"]}" | median)
  line=$(printf '%-20s %18s' "$clock" "$(printf '%.1f (1.000)' "$base")")
  for config in loaded-idle frozen plpgsql-shadow; do
    if [[ -n ${samples["$config|$clock"]:-} ]]; then
      m=$(echo "${samples["$config|$clock"]}" | median)
      line+=$(printf ' %18s' "$(printf '%.1f (%.3f)' "$m" "$(echo "$m / $base" | bc -l)")")
    else
      line+=$(printf ' %18s' "n/a")
    fi
  done
  echo "$line"
done
echo "target: frozen <= 1.05 x stock"

echo
echo "## pgbench -S (select-only, 1 client, ${SECONDS_S}s per run, alternating), median tps"
declare -A tps
for ((round = 1; round <= ROUNDS; round++)); do
  for config in stock loaded; do
    start_server "$config"
    pg "$BINDIR/pgbench" -n -S -c 1 -T 2 >/dev/null 2>&1  # warm up
    tps[$config]+="$(pg "$BINDIR/pgbench" -n -S -c 1 -T "$SECONDS_S" 2>/dev/null | awk '/^tps/ {print $3}') "
  done
  echo "# round $round/$ROUNDS done" >&2
done
stock_tps=$(echo "${tps[stock]}" | median)
loaded_tps=$(echo "${tps[loaded]}" | median)
printf '%-20s %12.0f (1.000)\n' stock "$stock_tps"
printf '%-20s %12.0f (%.3f)\n' loaded-idle "$loaded_tps" "$(echo "$loaded_tps / $stock_tps" | bc -l)"
printf 'loss: %.1f%% (target: under 2%%)\n' "$(echo "(1 - $loaded_tps / $stock_tps) * 100" | bc -l)"

# pgbench's throughput on a shared 2-core machine moves by a few percent from run to run; the
# profile of the loaded backend is the steadier figure: its share of CPU samples in this library
# (hooks, built-in replacements) plus sigsetjmp (the hooks' PG_TRY).
if command -v perf >/dev/null 2>&1; then
  start_server loaded
  pg "$BINDIR/pgbench" -n -S -c 1 -T "$SECONDS_S" >/dev/null 2>&1 &
  bench_pid=$!
  sleep 1
  backend=$(pg psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'")
  if [[ -n $backend ]] && timeout $((SECONDS_S - 2)) perf record -q -F 4000 -p "$backend" \
      -o "$work/perf.data" >/dev/null 2>&1 || [[ -s $work/perf.data ]]; then
    share=$(perf report -q -i "$work/perf.data" --stdio --sort dso,symbol 2>/dev/null |
      awk '/pg_unit_tests\.so/ || /__sigsetjmp|__sigjmp_save/ {s += $1} END {printf "%.2f", s}')
    echo "profile of the loaded-idle backend under pgbench -S: ${share}% of CPU samples in" \
      "pg_unit_tests (hooks, PG_TRY)"
  fi
  wait "$bench_pid" || true
fi
