#!/usr/bin/env bash
# Runs the tests of the language packages and their examples with the real runners (pytest, node
# --test, go test, Maven Surefire) against real servers of this tree's CLI.
#
#   bindings/check.sh [python] [node] [go] [java]      (default: all four)
#
# Test dependencies come from each ecosystem's registry; what they install lands under build/
# (a Python venv), in gitignored node_modules/ and target/ directories, and in the user's Go and
# Maven caches.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/bindings
mkdir -p "$out"

export PG_UNIT_TESTS_CLI=${PG_UNIT_TESTS_CLI:-$root/build/bin/pg_unit_tests}
if [[ ! -x $PG_UNIT_TESTS_CLI ]]; then
  echo "check-bindings: $PG_UNIT_TESTS_CLI is missing: run make first" >&2
  exit 2
fi
# A base directory of its own unless the caller (scripts/run-tests.sh) gave one.
if [[ -z ${PG_UNIT_TESTS_DIR:-} ]]; then
  PG_UNIT_TESTS_DIR=$(mktemp -d -p /dev/shm pgut-bindings-XXXXXX 2>/dev/null || mktemp -d)
  chmod 0755 "$PG_UNIT_TESTS_DIR"
  export PG_UNIT_TESTS_DIR
  trap '"$PG_UNIT_TESTS_CLI" stop --all >/dev/null 2>&1; rm -rf "$PG_UNIT_TESTS_DIR"' EXIT
fi

# Each step ends its function on failure ("|| return"): set -e does not apply under "check_x || ...".
check_python() {
  local venv=$out/python-venv
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv" || return
  # A real install (not editable): the wheel and its pytest11 entry point are what gets tested.
  "$venv/bin/pip" install -q --disable-pip-version-check "$root/bindings/python[test]" || return
  (cd "$root/bindings/python" && "$venv/bin/pytest" -p no:cacheprovider -q) || return
  (cd "$root/examples/python" && "$venv/bin/pytest" -p no:cacheprovider -q)
}

check_node() {
  local flags=(--no-package-lock --no-audit --no-fund --loglevel=error)
  (cd "$root/bindings/node" && npm install "${flags[@]}" && npm test && npm run --silent typecheck) || return
  (cd "$root/examples/node" && npm install "${flags[@]}" && npm test)
}

check_go() {
  (cd "$root/bindings/go" && go vet ./... && go test -count=1 ./...) || return
  (cd "$root/examples/go" && go vet ./... && go test -count=1 ./...)
}

check_java() {
  local mvn=(mvn -B -q --no-transfer-progress)
  # install: the example depends on the package as a user's project would, from the local repository.
  (cd "$root/bindings/java" && "${mvn[@]}" install) || return
  (cd "$root/examples/java" && "${mvn[@]}" test)
}

languages=("$@")
[[ ${#languages[@]} -gt 0 ]] || languages=(python node go java)
status=0
for l in "${languages[@]}"; do
  case $l in
    python | node | go | java) ;;
    *) echo "check-bindings: unknown language '$l' (python, node, go, java)" >&2; exit 2 ;;
  esac
  echo "--- bindings: $l"
  "check_$l" || status=1
done
exit $status
