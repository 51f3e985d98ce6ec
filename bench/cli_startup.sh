#!/usr/bin/env bash
# The CLI's own start cost, the warm start and createdb of this build against those of another
# revision (default: main), measured in one run by build/bin/bench_cli_startup:
#
#   bench/cli_startup.sh [REF]          builds REF's CLI in a scratch directory, then compares
#   BASELINE=PATH bench/cli_startup.sh  compares with a CLI built before
#
# RUNS (start, createdb) and VERSION_RUNS (--version) set the repetitions. REF's tree comes from
# `git archive` and is built with the settings of `make` (RelWithDebInfo, the same PG_CONFIG);
# everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
REF=${1:-main}
BENCH=$PWD/build/bin/bench_cli_startup
PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)}
[[ -x $BENCH ]] || { echo "bench/cli_startup.sh: build first (make)" >&2; exit 2; }

SCRATCH=$(mktemp -d /tmp/pgut-bench-cli-XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
if [[ -z ${BASELINE:-} ]]; then
  mkdir "$SCRATCH/src"
  git archive --format=tar "$REF" | tar -x -C "$SCRATCH/src"
  echo "building the CLI of $REF ($(git rev-parse --short "$REF")) in $SCRATCH ..." >&2
  cmake -S "$SCRATCH/src" -B "$SCRATCH/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPGUT_TESTS=OFF -DPGUT_BENCH=OFF -DPG_CONFIG="$PG_CONFIG" >/dev/null
  cmake --build "$SCRATCH/build" --target pg_unit_tests -j "$(nproc)" >/dev/null
  BASELINE=$SCRATCH/build/bin/pg_unit_tests
fi
"$BENCH" --baseline "$BASELINE" ${RUNS:+--runs "$RUNS"} ${VERSION_RUNS:+--version-runs "$VERSION_RUNS"}
