#!/usr/bin/env bash
# Wall time of `pg_unit_tests regress` against pg_regress, measured in one run on this machine:
#
#   bench/regress.sh                 this project's suite (sql/, expected/) and a generated suite of
#                                    40 small files, each with pg_unit_tests regress (serial,
#                                    --keep-warm, --jobs 2), pg_regress --temp-instance, and pg_regress
#                                    --use-existing on a server that is already running; medians of
#                                    RUNS runs (default 5), printed as ratios
#   bench/regress.sh compare DIR [MAKEVAR=VALUE...]
#                                    a PGXS extension's suites (REGRESS, ISOLATION and their
#                                    options from its Makefile; MAKEVARs such as USE_PGXS=1 go to
#                                    make) with pg_regress / pg_isolation_regress --temp-instance
#                                    and with pg_unit_tests regress, verdict by verdict; then the
#                                    REGRESS suite timed against --temp-instance and --use-existing
#
# pg_regress needs the extension installed "the usual way": PostgreSQL's bin/, lib/ and share/ are
# copied into a scratch prefix and the extension is installed there with `make install DESTDIR=`,
# so nothing is written into the system's installation. Under root, pg_regress runs as the user
# `postgres` (initdb refuses root). Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PGUT=$ROOT/build/bin/pg_unit_tests
PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || ls -d /usr/lib/postgresql/*/bin/pg_config | sort -V | tail -n 1)}
RUNS=${RUNS:-5}
[[ -x $PGUT ]] || { echo "bench/regress.sh: build first (make)" >&2; exit 2; }

SCRATCH=$(mktemp -d /tmp/pgut-bench-regress-XXXXXX)
chmod 0755 "$SCRATCH"
# A private copy of the CLI and the programs it starts (../libexec): a rebuild in the tree during
# the run must not pull them away. It serves the extension of the tree (../share, as in build/).
mkdir -p "$SCRATCH/bin" "$SCRATCH/share/pg_unit_tests"
cp "$PGUT" "$SCRATCH/bin/pg_unit_tests"
cp -a "$ROOT/build/libexec" "$SCRATCH/libexec"
ln -s "$ROOT" "$SCRATCH/share/pg_unit_tests/extension"
PGUT=$SCRATCH/bin/pg_unit_tests
server_pid_file=""
cleanup() {
  if [[ -n $server_pid_file && -f $server_pid_file ]]; then
    as_pg "$BINDIR/pg_ctl" stop -D "$SCRATCH/existing" -m immediate -s >/dev/null 2>&1 || true
  fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- a scratch copy of the installation ------------------------------------------------------------
SYS_BINDIR=$("$PG_CONFIG" --bindir)
SYS_SHAREDIR=$("$PG_CONFIG" --sharedir)
SYS_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
PREFIX=$SCRATCH/inst
mkdir -p "$PREFIX$(dirname "$(dirname "$SYS_BINDIR")")" "$PREFIX$(dirname "$SYS_SHAREDIR")"
cp -a "$(dirname "$SYS_BINDIR")" "$PREFIX$(dirname "$(dirname "$SYS_BINDIR")")/"
cp -a "$SYS_SHAREDIR" "$PREFIX$(dirname "$SYS_SHAREDIR")/"
[[ -d $PREFIX$SYS_PKGLIBDIR ]] || cp -a "$SYS_PKGLIBDIR" "$PREFIX$(dirname "$SYS_PKGLIBDIR")/"
BINDIR=$PREFIX$SYS_BINDIR
PG_REGRESS=$PREFIX$SYS_PKGLIBDIR/pgxs/src/test/regress/pg_regress

install_extension() {  # DIR [make args]
  local dir=$1
  shift
  make -s -C "$dir" install DESTDIR="$PREFIX" PG_CONFIG="$PG_CONFIG" "$@" >/dev/null
}

# A copy of a suite the postgres user can write into (sql/ and expected/ only if FILES_ONLY).
suite_copy() {  # SRC NAME [sql-and-expected-only]
  rm -rf "${SCRATCH:?}/$2"
  mkdir -p "$SCRATCH/$2"
  if [[ -n ${3:-} ]]; then
    cp -a "$1/sql" "$1/expected" "$SCRATCH/$2/"
  else
    cp -a "$1"/. "$SCRATCH/$2/"
  fi
  rm -rf "$SCRATCH/$2/results" "$SCRATCH/$2/tmp_check" "$SCRATCH/$2"/regression.*
  [[ $(id -u) -ne 0 ]] || chown -R postgres: "$SCRATCH/$2"
  echo "$SCRATCH/$2"
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs "$@" once in $dir (after `prepare` if set); prints the wall time in seconds.
timed_once() {
  local dir=$1 prepare=$2
  shift 2
  [[ -z $prepare ]] || $prepare
  local t0 t1
  t0=$(now)
  # Status 1 (a test failed) is a result too when suites are compared (ALLOW_FAILED=1).
  local status=0
  (cd "$dir" && "$@" >"$SCRATCH/last.log" 2>&1) || status=$?
  [[ $status -eq 0 || ($status -eq 1 && -n ${ALLOW_FAILED:-}) ]] || {
    echo "bench/regress.sh: failed: $*" >&2
    tail -20 "$SCRATCH/last.log" >&2
    exit 1
  }
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

# The directories of the pre-started spare servers (`cache status --json`), one a line, sorted.
pooled_spares() {
  "$PGUT" cache status --json |
    python3 -c 'import json, sys; [print(i["path"]) for i in json.load(sys.stdin)["items"] if i["kind"] == "server"]' |
    sort
}

# Stops the spares that --keep-warm left (not those that were there before the bench).
stop_new_spares() {
  comm -13 <(echo "$spares_before") <(pooled_spares) | while read -r spare; do
    [[ -z $spare ]] || "$PGUT" stop "$spare" >/dev/null 2>&1 || true
  done
}

# --- compare mode: a PGXS extension's suite, verdict by verdict, and timed -------------------------
MAKE_VARS=()
make_var() {  # DIR VAR (the last line: Makefiles may print with $(info) while parsed)
  make -s -C "$1" -f Makefile -f <(printf 'pgut-print-%%:\n\t@echo $($*)\n') "pgut-print-$2" \
    PG_CONFIG="$PG_CONFIG" "${MAKE_VARS[@]}" 2>/dev/null | tail -1
}

# pg_regress options one per line, "--name value" joined into "--name=value".
normalized() {
  local prev=""
  for w in "$@"; do
    if [[ -n $prev ]]; then
      echo "$prev=$w"
      prev=""
    elif [[ $w =~ ^--(temp-config|load-extension|schedule|inputdir|outputdir|dbname|max-connections|launcher|encoding|create-role)$ ]]; then
      prev=$w
    else
      echo "$w"
    fi
  done
}

verdicts() {  # LOG: "name verdict" lines from pg_regress-style output (15's, and 16's TAP lines)
  sed -nE -e 's/^(test | {5})([^ ]+) +\.\.\. (ok|FAILED|failed \(ignored\)).*/\2 \3/p' \
    -e 's/^ok +[0-9]+ +[-+] +([^ ]+) +[0-9]+ ms.*/\1 ok/p' \
    -e 's/^not ok +[0-9]+ +[-+] +([^ ]+) +[0-9]+ ms.*/\1 FAILED/p' "$1" | sort
}

# Settings of --temp-config files in OPTS, as -c options for an existing server.
temp_config_settings() {  # DIR OPTS...
  local dir=$1 f
  shift
  for f in $(printf '%s\n' "$@" | sed -nE 's/^--temp-config=//p'); do
    [[ -n $f ]] || continue
    sed -E 's/#.*//; s/^[[:space:]]+//; s/[[:space:]]+$//' "$dir/$f" | grep -E '^[A-Za-z_.]+' |
      sed -E "s/[[:space:]]*=[[:space:]]*/=/; s/^([A-Za-z_.]+)[[:space:]]+/\1=/; s/'//g; s/^/-c /"
  done
}

# pg_regress and pg_isolation_regress --temp-instance against pg_unit_tests regress; prints both
# summaries and the verdicts that differ; returns 1 if any does.
compare_kind() {  # KIND(regress|isolation) SRC TESTS OPTS
  local kind=$1 src=$2 tests=$3 opts=$4 prog=$PG_REGRESS out=. iso=() dir
  [[ -n $tests ]] || return 0
  if [[ $kind == isolation ]]; then
    prog=$PG_ISOLATION_REGRESS out=output_iso iso=(--isolation)
  fi
  dir=$(suite_copy "$src" "verdicts-$kind")
  # shellcheck disable=SC2086
  (cd "$dir" && as_pg "$prog" --temp-instance=./tmp_check --bindir="$BINDIR" --inputdir=./ \
     --outputdir=$out $opts $tests >"$SCRATCH/$kind-pg.log" 2>&1) || true
  dir=$(suite_copy "$src" "verdicts-$kind-pgut")
  # shellcheck disable=SC2086
  (cd "$dir" && env "${MAKE_VARS[@]}" "$PGUT" regress "${iso[@]}" --extension="$src" --pg-config="$PG_CONFIG" \
     --inputdir=./ --outputdir=$out $opts $tests >"$SCRATCH/$kind-pgut.log" 2>&1) || true
  echo "$kind: pg_regress --temp-instance: $(grep -E 'tests (passed|failed)' "$SCRATCH/$kind-pg.log" ||
    tail -3 "$SCRATCH/$kind-pg.log")"
  echo "$kind: pg_unit_tests regress:      $(grep -E 'tests (passed|failed)' "$SCRATCH/$kind-pgut.log" ||
    tail -3 "$SCRATCH/$kind-pgut.log")"
  if diff <(verdicts "$SCRATCH/$kind-pg.log") <(verdicts "$SCRATCH/$kind-pgut.log") >/dev/null; then
    echo "$kind: same verdicts for all $(verdicts "$SCRATCH/$kind-pgut.log" | wc -l) tests"
  else
    echo "$kind: verdicts differ (pg_regress left, pg_unit_tests right):"
    diff <(verdicts "$SCRATCH/$kind-pg.log") <(verdicts "$SCRATCH/$kind-pgut.log") || true
    return 1
  fi
}

if [[ ${1:-} == compare ]]; then
  src=$(cd "$2" && pwd)
  shift 2
  MAKE_VARS=("$@")  # e.g. USE_PGXS=1 for contrib sources, PARALLEL_CONN=54 for pgTAP
  make -s -C "$src" PG_CONFIG="$PG_CONFIG" "${MAKE_VARS[@]}" >/dev/null 2>&1
  install_extension "$src" "${MAKE_VARS[@]}"
  PG_ISOLATION_REGRESS=$PREFIX$SYS_PKGLIBDIR/pgxs/src/test/isolation/pg_isolation_regress
  # shellcheck disable=SC2046
  regress=$(normalized $(make_var "$src" REGRESS) | tr '\n' ' ')
  # shellcheck disable=SC2046
  opts=$(normalized $(make_var "$src" REGRESS_OPTS) | tr '\n' ' ')
  isolation=$(make_var "$src" ISOLATION)
  # shellcheck disable=SC2046
  iso_opts=$(normalized $(make_var "$src" ISOLATION_OPTS) | tr '\n' ' ')
  status=0
  compare_kind regress "$src" "$regress" "$opts" || status=1
  compare_kind isolation "$src" "$isolation" "$iso_opts" || status=1
  [[ -n $regress ]] || exit $status

  # Timing of the REGRESS suite: pg_unit_tests regress (its own server, from nothing), pg_regress
  # --temp-instance, and pg_regress --use-existing on a server started beforehand with the
  # suite's --temp-config settings (the database recreated and --load-extension done before each
  # of its runs, outside the time). RUNS rounds, modes interleaved, medians.
  EXISTING=$SCRATCH/existing SOCK=$SCRATCH/sock PORT=54329
  mkdir -p "$SOCK"
  [[ $(id -u) -ne 0 ]] || chown postgres: "$SOCK" "$SCRATCH"
  as_pg "$BINDIR/initdb" -D "$EXISTING" --no-sync -A trust -U postgres >/dev/null
  # shellcheck disable=SC2046,SC2086
  as_pg "$BINDIR/pg_ctl" start -D "$EXISTING" -w -s -l "$SCRATCH/existing.log" \
    -o "-F -k $SOCK -c listen_addresses='' -p $PORT -c max_prepared_transactions=2 $(temp_config_settings "$src" $opts | tr '\n' ' ')" >/dev/null
  server_pid_file=$EXISTING/postmaster.pid
  db=$(printf '%s\n' $opts | sed -nE 's/^--dbname=//p' | tail -1 | cut -d, -f1)
  db=${db:-regression}
  load=$(printf '%s\n' $opts | sed -nE 's/^--load-extension=(.*)/CREATE EXTENSION "\1";/p' | tr '\n' ' ')
  recreate() {
    # shellcheck disable=SC2086
    as_pg env PGOPTIONS="-c client_min_messages=warning" "$BINDIR/psql" -X -q -h "$SOCK" -p $PORT \
      -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" -c "CREATE DATABASE \"$db\" TEMPLATE template0" >/dev/null
    [[ -z $load ]] || as_pg "$BINDIR/psql" -X -q -h "$SOCK" -p $PORT -U postgres -d "$db" -c "$load" >/dev/null
  }
  dir=$(suite_copy "$src" timed)
  ALLOW_FAILED=1
  declare -A times=()
  # --keep-warm leaves a pre-started spare of the suite's configuration after each run: the next
  # claims it. Spares that were there before the bench are not ours to stop.
  spares_before=$(pooled_spares)
  for _ in $(seq "$RUNS"); do
    for m in pgut warm temp existing; do
      # shellcheck disable=SC2086
      case $m in
        pgut) t=$(timed_once "$dir" "" env "${MAKE_VARS[@]}" "$PGUT" regress --extension="$src" --pg-config="$PG_CONFIG" \
          --inputdir=./ --outputdir="$SCRATCH/out-pgut" $opts $regress) ;;
        warm) t=$(timed_once "$dir" "" env "${MAKE_VARS[@]}" "$PGUT" regress --keep-warm --extension="$src" --pg-config="$PG_CONFIG" \
          --inputdir=./ --outputdir="$SCRATCH/out-pgut" $opts $regress) ;;
        temp) t=$(timed_once "$dir" "" as_pg "$PG_REGRESS" --temp-instance=./tmp_check \
          --bindir="$BINDIR" --inputdir=./ $opts $regress) ;;
        existing) t=$(timed_once "$dir" recreate as_pg env PGHOST="$SOCK" PGPORT=$PORT \
          PGUSER=postgres "$PG_REGRESS" --use-existing --bindir="$BINDIR" --inputdir=./ \
          $(printf '%s\n' $opts | grep -vE '^--(temp-config|load-extension)' | tr '\n' ' ') $regress) ;;
      esac
      times[$m]="${times[$m]:-} $t"
    done
  done
  stop_new_spares
  declare -A T=()
  for m in pgut warm temp existing; do T[$m]=$(tr ' ' '\n' <<<"${times[$m]}" | grep . | median); done
  echo
  echo "$(basename "$src") REGRESS ($(verdicts "$SCRATCH/regress-pgut.log" | wc -l) tests), median of $RUNS interleaved runs, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
  printf '  %-32s %7.2f s\n' "pg_unit_tests regress" "${T[pgut]}" "pg_unit_tests regress --keep-warm" \
    "${T[warm]}" "pg_regress --temp-instance" "${T[temp]}" "pg_regress --use-existing" "${T[existing]}"
  printf '  --temp-instance / regress: %sx (target >= 3); regress - --use-existing: %+.2f s, with --keep-warm %+.2f s (target <= 0.2)\n' \
    "$(echo "scale=2; ${T[temp]} / ${T[pgut]}" | bc -l)" "$(echo "${T[pgut]} - ${T[existing]}" | bc -l)" \
    "$(echo "${T[warm]} - ${T[existing]}" | bc -l)"
  exit $status
fi

# --- bench mode -------------------------------------------------------------------------------------
# This project's extension, installed into the scratch prefix.
make -s -C "$ROOT" install HARNESS=no DESTDIR="$PREFIX" PG_CONFIG="$PG_CONFIG" >/dev/null
PRELOAD=$SCRATCH/preload.conf
printf "shared_preload_libraries = 'pg_unit_tests'\npg_unit_tests.time_control = on\n" >"$PRELOAD"
chmod 0644 "$PRELOAD"
OWN_TESTS=$(make_var "$ROOT" REGRESS)

# The generated suite: 40 small files.
GEN=$SCRATCH/generated-src
mkdir -p "$GEN/sql" "$GEN/expected"
GEN_TESTS=""
for i in $(seq -w 1 40); do
  cat >"$GEN/sql/t$i.sql" <<SQL
CREATE TABLE t$i (id int PRIMARY KEY, v text);
INSERT INTO t$i SELECT g, md5(g::text) FROM generate_series(1, 200) AS g;
SELECT count(*), min(v), max(id) FROM t$i;
SELECT v FROM t$i WHERE id = $((10#$i));
UPDATE t$i SET v = upper(v) WHERE id % 10 = 0;
SELECT count(*) FROM t$i WHERE v = upper(v);
DROP TABLE t$i;
SQL
  GEN_TESTS="$GEN_TESTS t$i"
done
# shellcheck disable=SC2086
(cd "$GEN" && "$PGUT" regress --stock --accept --outputdir="$SCRATCH/accept" $GEN_TESTS >/dev/null)

# An already running server for --use-existing (the usual installcheck set-up): the scratch
# installation, extension preloaded, fsync off as pg_regress's temp instance has it.
EXISTING=$SCRATCH/existing
SOCK=$SCRATCH/sock
mkdir -p "$SOCK"
[[ $(id -u) -ne 0 ]] || chown postgres: "$SOCK" "$SCRATCH"
as_pg "$BINDIR/initdb" -D "$EXISTING" --no-sync -A trust -U postgres >/dev/null
as_pg "$BINDIR/pg_ctl" start -D "$EXISTING" -w -s -l "$SCRATCH/existing.log" \
  -o "-F -k $SOCK -c listen_addresses='' -p 54329 -c shared_preload_libraries=pg_unit_tests -c pg_unit_tests.time_control=on" >/dev/null
server_pid_file=$EXISTING/postmaster.pid
recreate_db() {
  as_pg env PGOPTIONS="-c client_min_messages=warning" "$BINDIR/psql" -X -q -h "$SOCK" -p 54329 -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS contrib_regression" -c "CREATE DATABASE contrib_regression" >/dev/null
}

declare -A T
# The modes of one suite run in turn, RUNS rounds, so that load from elsewhere on the machine
# spreads over all of them; each time is the median of its RUNS.
bench_suite() {  # KEY SRC TESTS EXTRA_PG_REGRESS_OPTS INDEPENDENT
  local key=$1 src=$2 tests=$3 extra=$4 independent=$5 dir m
  dir=$(suite_copy "$src" "$key" files-only)
  local -a modes=(pgut warm temp existing)
  # --jobs runs the tests in one database per worker: only for suites whose tests do not build on
  # each other (this project's do: time_api creates the extension the others use).
  [[ -z $independent ]] || modes+=(pgut_j2)
  T[$key.pgut_j2]=0
  declare -A times=()
  for _ in $(seq "$RUNS"); do
    for m in "${modes[@]}"; do
      # shellcheck disable=SC2086
      case $m in
        pgut) t=$(timed_once "$src" "" "$PGUT" regress --outputdir="$SCRATCH/out-$key" $tests) ;;
        pgut_j2) t=$(timed_once "$src" "" "$PGUT" regress --jobs=2 --outputdir="$SCRATCH/out-$key" $tests) ;;
        warm) t=$(timed_once "$src" "" "$PGUT" regress --keep-warm --outputdir="$SCRATCH/out-$key" $tests) ;;
        temp) t=$(timed_once "$dir" "" as_pg "$PG_REGRESS" --temp-instance=./tmp_check \
          --bindir="$BINDIR" --inputdir=./ --dbname=contrib_regression $extra $tests) ;;
        existing) t=$(timed_once "$dir" recreate_db as_pg env PGHOST="$SOCK" PGPORT=54329 \
          PGUSER=postgres "$PG_REGRESS" --use-existing --bindir="$BINDIR" --inputdir=./ \
          --dbname=contrib_regression $tests) ;;
      esac
      times[$m]="${times[$m]:-} $t"
    done
  done
  for m in "${modes[@]}"; do
    T[$key.$m]=$(tr ' ' '\n' <<<"${times[$m]}" | grep . | median)
  done
}

spares_before=$(pooled_spares)
bench_suite own "$ROOT" "$OWN_TESTS" "--temp-config=$PRELOAD" ""
bench_suite generated "$GEN" "$GEN_TESTS" "" independent
stop_new_spares

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo
echo "pg_unit_tests regress vs pg_regress, median of $RUNS interleaved runs each, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-34s %8s %10s\n' "wall time (s)" "own ($(wc -w <<<"$OWN_TESTS"))" "generated (40)"
for m in pgut warm pgut_j2 temp existing; do
  case $m in
    pgut) label="pg_unit_tests regress" ;;
    warm) label="pg_unit_tests regress --keep-warm" ;;
    pgut_j2) label="pg_unit_tests regress --jobs 2" ;;
    temp) label="pg_regress --temp-instance" ;;
    existing) label="pg_regress --use-existing" ;;
  esac
  own=$(printf '%8.3f' "${T[own.$m]}")
  [[ $m != pgut_j2 ]] || own="     n/a"
  printf '%-34s %8s %8.3f\n' "$label" "$own" "${T[generated.$m]}"
done
echo
printf '%-50s %8s %8s\n' "ratio" "own" "generated"
printf '%-50s %7sx %7sx\n' "--temp-instance / regress (target >= 3)" \
  "$(ratio "${T[own.temp]}" "${T[own.pgut]}")" "$(ratio "${T[generated.temp]}" "${T[generated.pgut]}")"
printf '%-50s %+7.3f %+7.3f\n' "regress - --use-existing, seconds (target <= 0.2)" \
  "$(echo "${T[own.pgut]} - ${T[own.existing]}" | bc -l)" \
  "$(echo "${T[generated.pgut]} - ${T[generated.existing]}" | bc -l)"
printf '%-50s %+7.3f %+7.3f\n' "regress --keep-warm - --use-existing, seconds" \
  "$(echo "${T[own.warm]} - ${T[own.existing]}" | bc -l)" \
  "$(echo "${T[generated.warm]} - ${T[generated.existing]}" | bc -l)"
printf '%-50s %8s %7sx\n' "--use-existing / regress --jobs 2 (target > 1)" "n/a" \
  "$(ratio "${T[generated.existing]}" "${T[generated.pgut_j2]}")"
