#!/usr/bin/env bash
# The cost of time control, measured in one run, as ratios against a stock server.
#
#   bench/clock.sh        (after `make`: it starts its servers with the harness, ./pg_unit_tests)
#
# Two servers from the harness, side by side, identical but for the extension:
#   stock    pg_unit_tests start --stock (nothing preloaded)
#   loaded   pg_unit_tests start         (pg_unit_tests preloaded, time control on)
# and four ways of reading the clock:
#   stock          the stock server
#   loaded-idle    the loaded server, time real (the state of every session that never freezes)
#   frozen         the loaded server, sessions frozen (PGOPTIONS=-cpg_unit_tests.frozen_at=...)
#   plpgsql-shadow the old recipe on the stock server: a plpgsql shadow.now() first on search_path,
#                  returning a frozen instant kept in a custom setting (CURRENT_TIMESTAMP has no
#                  shadow: the recipe cannot reach it)
# Clock cost: pgbench runs `SELECT count(<clock>) FROM generate_series(1, ROWS)` (the clock is
# evaluated once per row); rounds alternate between the servers and the median latency counts.
# Instructions: callgrind counts the instructions of the clock queries in a single-user backend:
# stock, loaded-idle, frozen (the setting), database-clock (frozen by the database's clock) and
# other-database (time real, another database's clock frozen); deterministic; skipped without
# valgrind.
# Throughput: pgbench -S (select-only, simple protocol, 1 client) against stock and loaded-idle,
# many short runs whose order flips every round (stock-loaded, loaded-stock): on a shared 2-core
# machine a burst of outside load lasts seconds, and with a fixed order and few long runs one
# burst decided the median (a single run reported 8% "loss" that same-server A/B runs, syscall
# counts and instruction counts did not confirm). Plus, where perf is available, the share of the
# loaded backend's CPU samples spent in the extension (steadier than throughput on a busy machine).
#
# Knobs (environment): ROWS (1000000), ROUNDS (5), TX (5 transactions per clock measurement),
# ROUNDS_S (16 pgbench -S rounds), SECONDS_S (4 seconds per pgbench -S run), SCALE (10),
# PGUT_CLI (the harness CLI), ONLY=instructions (the callgrind counts alone: a few minutes).
set -euo pipefail

ROWS=${ROWS:-1000000}
ROUNDS=${ROUNDS:-5}
TX=${TX:-5}
ROUNDS_S=${ROUNDS_S:-16}
SECONDS_S=${SECONDS_S:-4}
SCALE=${SCALE:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
CLI=${PGUT_CLI:-$here/pg_unit_tests}
BINDIR=$("${PG_CONFIG:-pg_config}" --bindir)
FROZEN='2020-02-02T02:02:02Z'

if [[ ! -x $CLI ]]; then
  echo "bench/clock.sh: the harness CLI $CLI is missing: build the project first (make)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/pgut-bench.XXXXXX)
declare -A uri
cleanup() {
  for config in "${!uri[@]}"; do "$CLI" stop "${uri[$config]}" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

settings=(-w 0 -o "-c jit=off -c shared_buffers=256MB -c max_parallel_workers_per_gather=0")
uri[stock]=$("$CLI" start --stock "${settings[@]}")
uri[loaded]=$("$CLI" start "${settings[@]}")

echo "# bench/clock.sh: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}'), $(nproc) cores," \
  "ROWS=$ROWS ROUNDS=$ROUNDS TX=$TX ROUNDS_S=$ROUNDS_S SECONDS_S=$SECONDS_S SCALE=$SCALE"
if [[ $(psql -X -At -d "${uri[loaded]}" -c "SHOW pg_unit_tests.time_control") != on ]]; then
  echo "bench/clock.sh: the loaded server has no time control" >&2
  exit 1
fi

psql -X -q -v ON_ERROR_STOP=1 -d "${uri[stock]}" <<'SQL'
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.now() RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce(nullif(current_setting('shadow.frozen_at', true), '')::timestamptz,
                  pg_catalog.now());
END $$;
CREATE FUNCTION shadow.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN coalesce(nullif(current_setting('shadow.frozen_at', true), '')::timestamptz,
                  pg_catalog.clock_timestamp());
END $$;
SQL
clocks=("now()" "CURRENT_TIMESTAMP" "clock_timestamp()")
if [[ ${ONLY:-} != instructions ]]; then
for config in stock loaded; do "$BINDIR/pgbench" -i -q -s "$SCALE" "${uri[$config]}" >/dev/null 2>&1; done

declare -A samples  # "<way>|<clock>" -> latencies (ms), space separated

# Average latency (ms) of TX runs of `SELECT count(<clock>) ...` in one session.
measure() {  # $1 server, $2 PGOPTIONS, $3 clock
  echo "SELECT count($3) FROM generate_series(1, $ROWS);" >"$work/q.sql"
  PGOPTIONS="$2" "$BINDIR/pgbench" -n -t "$TX" -f "$work/q.sql" "${uri[$1]}" 2>/dev/null |
    awk '/latency average/ {print $4}'
}

for ((round = 1; round <= ROUNDS; round++)); do
  for clock in "${clocks[@]}"; do
    samples["stock|$clock"]+="$(measure stock "" "$clock") "
    samples["loaded-idle|$clock"]+="$(measure loaded "" "$clock") "
    samples["frozen|$clock"]+="$(measure loaded "-cpg_unit_tests.frozen_at=$FROZEN" "$clock") "
    if [[ $clock != CURRENT_TIMESTAMP ]]; then
      samples["plpgsql-shadow|$clock"]+="$(measure stock \
        "-csearch_path=shadow,pg_catalog -cshadow.frozen_at=$FROZEN" "$clock") "
    fi
  done
  echo "# clock round $round/$ROUNDS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo
echo "## clock cost: SELECT count(<clock>) FROM generate_series(1, $ROWS), median ms (ratio to stock)"
printf '%-20s %18s %18s %18s %18s\n' clock stock loaded-idle frozen plpgsql-shadow
for clock in "${clocks[@]}"; do
  base=$(echo "${samples["stock|$clock"]}" | median)
  line=$(printf '%-20s %18s' "$clock" "$(printf '%.1f (1.000)' "$base")")
  for way in loaded-idle frozen plpgsql-shadow; do
    if [[ -n ${samples["$way|$clock"]:-} ]]; then
      m=$(echo "${samples["$way|$clock"]}" | median)
      line+=$(printf ' %18s' "$(printf '%.1f (%.3f)' "$m" "$(echo "$m / $base" | bc -l)")")
    else
      line+=$(printf ' %18s' "n/a")
    fi
  done
  echo "$line"
done
echo "target: frozen <= 1.05 x stock"

echo
echo "## pgbench -S (select-only, 1 client, $ROUNDS_S rounds of ${SECONDS_S}s runs, order flipped" \
  "every round), median tps"
declare -A tps
for config in stock loaded; do "$BINDIR/pgbench" -n -S -c 1 -T 2 "${uri[$config]}" >/dev/null 2>&1; done
for ((round = 1; round <= ROUNDS_S; round++)); do
  order=(stock loaded)
  ((round % 2 == 0)) && order=(loaded stock)
  for config in "${order[@]}"; do
    tps[$config]+="$("$BINDIR/pgbench" -n -S -c 1 -T "$SECONDS_S" "${uri[$config]}" 2>/dev/null |
      awk '/^tps/ {print $3}') "
  done
  echo "# pgbench round $round/$ROUNDS_S done" >&2
done
stock_tps=$(echo "${tps[stock]}" | median)
loaded_tps=$(echo "${tps[loaded]}" | median)
printf '%-20s %12.0f (1.000)\n' stock "$stock_tps"
printf '%-20s %12.0f (%.3f)\n' loaded-idle "$loaded_tps" "$(echo "$loaded_tps / $stock_tps" | bc -l)"
printf 'loss: %.1f%% (target: under 2%%)\n' "$(echo "(1 - $loaded_tps / $stock_tps) * 100" | bc -l)"

# The loaded backend's profile under the same load: its share of CPU samples in this library
# (hooks, built-in replacements) plus sigsetjmp (the hooks' PG_TRY).
if command -v perf >/dev/null 2>&1; then
  "$BINDIR/pgbench" -n -S -c 1 -T 10 "${uri[loaded]}" >/dev/null 2>&1 &
  bench_pid=$!
  sleep 1
  backend=$(psql -X -At -d "${uri[loaded]}" \
    -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'")
  timeout 8 perf record -q -F 4000 -p "$backend" -o "$work/perf.data" \
    >/dev/null 2>&1 || true
  if [[ -s $work/perf.data ]]; then
    share=$(perf report -q -i "$work/perf.data" --stdio --sort dso,symbol 2>/dev/null |
      awk '/pg_unit_tests\.so/ || /__sigsetjmp|__sigjmp_save/ {s += $1} END {printf "%.2f", s}')
    echo "profile of the loaded-idle backend under pgbench -S: ${share}% of CPU samples in" \
      "pg_unit_tests (hooks, PG_TRY)"
  fi
  wait "$bench_pid" || true
fi
fi

# Instruction counts: deterministic, whatever else the machine is doing (the wall-clock ratios
# above move by a few percent between identical servers here). A single-user backend (stock binary,
# then the overlay's binary with the extension preloaded and time control on) runs the clock
# queries under callgrind; the figure is the instructions of standard_ExecutorRun. The loaded
# backend runs them with time real, frozen by its setting, frozen by its database's clock (the
# connection-pool case), and with time real while another database's clock is frozen (what a
# database clock costs the sessions of other databases).
if command -v valgrind >/dev/null 2>&1 && command -v callgrind_annotate >/dev/null 2>&1; then
  info=$(psql -X -At -d "${uri[loaded]}" -c "SELECT setting FROM pg_settings WHERE name = 'data_directory'")
  loaded_pid=$(head -1 "$info/postmaster.pid")
  loaded_bin=$(readlink "/proc/$loaded_pid/exe")
  stock_bin="$BINDIR/postgres"
  tmpl=""
  # The template of this installation (a cache holds one per version and locale).
  for t in "$(dirname "$(dirname "$(dirname "$info")")")"/cache/tmpl-*.json; do
    grep -q '"locale":"C.UTF-8"' "$t" && grep -qF "\"bindir\":\"$BINDIR\"" "$t" &&
      tmpl=${t%.json} && break
  done
  chmod 755 "$work"  # the server user runs the single-user backend under root
  cg="$work/callgrind"
  mkdir -p "$cg"
  cp -a "$tmpl" "$cg/data"
  for c in "${clocks[@]}"; do echo "SELECT count($c) FROM generate_series(1, 100000);"; done >"$cg/q.sql"
  { echo "SELECT unit_tests.freeze('$FROZEN', scope => 'database');"; cat "$cg/q.sql"; } >"$cg/database.sql"
  { echo "SELECT unit_tests.freeze('$FROZEN', scope => 'database', database => 'template1');"
    cat "$cg/q.sql"; } >"$cg/other.sql"
  run_as=()
  [[ $(id -u) -eq 0 ]] && run_as=(runuser -u "$(stat -c %U "$tmpl")" --)
  [[ $(id -u) -eq 0 ]] && chown -R "$(stat -c %U "$tmpl")" "$cg"
  preload=(-c shared_preload_libraries=pg_unit_tests -c pg_unit_tests.time_control=on)
  echo "CREATE EXTENSION pg_unit_tests;" |
    "${run_as[@]}" "$loaded_bin" --single -D "$cg/data" "${preload[@]}" postgres >/dev/null 2>&1
  # The database clock must really apply in a single-user backend, or its count means nothing.
  if ! { head -1 "$cg/database.sql"; echo "SELECT now() = '$FROZEN' AS frozen;"; } |
    "${run_as[@]}" "$loaded_bin" --single -D "$cg/data" "${preload[@]}" postgres 2>&1 |
    grep -q 'frozen = "t"'; then
    echo "bench/clock.sh: the database clock did not apply in the single-user backend" >&2
    exit 1
  fi
  count() {  # queries, binary, extra settings...
    local queries=$1 bin=$2 out=$cg/$RANDOM.out
    shift 2
    "${run_as[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --single \
      -D "$cg/data" -c jit=off "$@" postgres <"$queries" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
      awk '/standard_ExecutorRun/ && !done {gsub(",", "", $1); print $1; done = 1}'
  }
  declare -A ir
  ir[stock]=$(count "$cg/q.sql" "$stock_bin")
  ir[loaded-idle]=$(count "$cg/q.sql" "$loaded_bin" "${preload[@]}")
  ir[frozen]=$(count "$cg/q.sql" "$loaded_bin" "${preload[@]}" -c "pg_unit_tests.frozen_at=$FROZEN")
  ir[database-clock]=$(count "$cg/database.sql" "$loaded_bin" "${preload[@]}")
  ir[other-database]=$(count "$cg/other.sql" "$loaded_bin" "${preload[@]}")
  echo
  echo "## instructions (callgrind) of the clock queries, 100000 rows each, all clocks together"
  for way in stock loaded-idle frozen database-clock other-database; do
    printf '%-20s %14s (%.4f)\n' "$way" "${ir[$way]}" "$(echo "${ir[$way]} / ${ir[stock]}" | bc -l)"
  done
  echo "targets: loaded-idle and other-database under 1.02 x stock, frozen and database-clock under 1.05"

  # The same for a pgbench -S query (an index lookup, planned every time: what the plan rewrite
  # costs), 2000 of them after a warm-up run; the figure is the instructions of PostgresMain.
  {
    echo "CREATE TABLE accounts (aid int PRIMARY KEY, abalance int, filler char(84));"
    echo "INSERT INTO accounts SELECT g, 0, '' FROM generate_series(1, 100000) g;"
    echo "VACUUM ANALYZE accounts;"
  } | "${run_as[@]}" "$stock_bin" --single -D "$cg/data" postgres >/dev/null 2>&1
  for ((i = 0; i < 2000; i++)); do echo "SELECT abalance FROM accounts WHERE aid = $((i * 37 % 100000 + 1));"; done >"$cg/select.sql"
  count_main() {  # binary, extra settings...
    local bin=$1 out=$cg/$RANDOM.out
    shift
    "${run_as[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --single \
      -D "$cg/data" -c jit=off "$@" postgres <"$cg/select.sql" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
      awk '/ [?]+:PostgresMain / && !done {gsub(",", "", $1); print $1; done = 1}'
  }
  "${run_as[@]}" "$stock_bin" --single -D "$cg/data" postgres <"$cg/select.sql" >/dev/null 2>&1
  select_stock=$(count_main "$stock_bin")
  select_loaded=$(count_main "$loaded_bin" "${preload[@]}")
  echo
  echo "## instructions (callgrind) of 2000 pgbench -S queries, per query"
  printf '%-20s %14.0f (1.0000)\n' stock "$(echo "$select_stock / 2000" | bc -l)"
  printf '%-20s %14.0f (%.4f)\n' loaded-idle "$(echo "$select_loaded / 2000" | bc -l)" \
    "$(echo "$select_loaded / $select_stock" | bc -l)"
else
  echo "(valgrind not installed: no instruction counts)"
fi
