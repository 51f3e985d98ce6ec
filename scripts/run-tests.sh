#!/usr/bin/env bash
# Runs every test of the project (what `make test` and CI run), each suite against real servers
# started by the harness, and ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}

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

suite "lint (clang-format, clang-tidy)" scripts/lint.sh build
suite "harness and extension tests (GoogleTest)" "$make" --no-print-directory check-harness
suite "extension regression suite (pg_unit_tests regress)" "$make" --no-print-directory check-regress
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
