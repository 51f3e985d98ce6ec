#!/usr/bin/env bash
# Runs every test of the project (what `make test` and CI run), each suite against real servers
# started by the harness, and ends with one summary line.
#
# The version matrix: PG_CONFIGS lists pg_config paths (space-separated; `make test` passes its
# PG_CONFIGS, default the PG_CONFIG the tree is built with). Lint, the harness's tests and the
# sanitizer build run once, on the tree's installation; the extension's pg_regress suite and its
# GoogleTest suites (ctest label "extension") run on every installation of the list.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
default_pg_config=$("$make" -s --no-print-directory print-pg-config)
read -r -a pg_configs <<<"${PG_CONFIGS:-$default_pg_config}"
export PG_CONFIGS="${pg_configs[*]}"  # tests/versions loops over them too

# A base directory of its own for this run: the tests neither see nor disturb the user's servers and
# cache, and the leftover check below is exact. In RAM when /dev/shm is there, like the default.
parent=/dev/shm
[[ -d $parent && -w $parent ]] || parent=${TMPDIR:-/tmp}
PG_UNIT_TESTS_DIR=$(mktemp -d -p "$parent" pgut-tests-XXXXXX)
chmod 0755 "$PG_UNIT_TESTS_DIR"  # under root, the server user must be able to enter
export PG_UNIT_TESTS_DIR
trap 'rm -rf "$PG_UNIT_TESTS_DIR"' EXIT

passed=0
failed=0
failures=()
suite() {
  local name=$1
  shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

# "15.20 (/usr/lib/postgresql/15/bin)": what a suite line names; the bindir tells installations of one
# version apart (a release and an assert-enabled build).
describe() {
  local bindir version
  bindir=$("$1" --bindir 2>/dev/null) && version=$("$1" --version 2>/dev/null) || {
    echo "$1 (not a pg_config)"
    return
  }
  echo "${version#PostgreSQL } ($bindir)"
}
default_bindir=$("$default_pg_config" --bindir 2>/dev/null)
default=$(describe "$default_pg_config")

suite "lint (clang-format, clang-tidy)" scripts/lint.sh build
suite "harness and extension tests (GoogleTest), PostgreSQL $default" "$make" --no-print-directory check-harness
suite "extension regression suite (pg_unit_tests regress), PostgreSQL $default" \
  "$make" --no-print-directory check-regress
for pg_config in "${pg_configs[@]}"; do
  # The tree's own installation ran above (the same bindir: /usr/bin/pg_config on Debian is the
  # newest installation's).
  [[ $("$pg_config" --bindir 2>/dev/null) == "$default_bindir" ]] && continue
  name=$(describe "$pg_config")
  suite "extension tests (GoogleTest), PostgreSQL $name" \
    env PG_CONFIG="$pg_config" ctest --test-dir build -L extension --output-on-failure -j "$(nproc)"
  suite "extension regression suite (pg_unit_tests regress), PostgreSQL $name" \
    "$make" --no-print-directory check-regress-on ON_PG_CONFIG="$pg_config"
done
suite "harness tests under ASan/UBSan" "$make" --no-print-directory check-sanitize
for language in python node go java; do
  suite "language package: $language" "$make" --no-print-directory "check-bindings-$language"
done
suite "leftovers: no server process or directory remains" scripts/check-clean.sh

echo
if [[ $failed -gt 0 ]]; then
  echo "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
