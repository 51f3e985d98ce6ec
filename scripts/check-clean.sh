#!/usr/bin/env bash
# After the tests: no server of the harness may still run, and no server directory may remain.
set -uo pipefail
sleep 1  # keepers of servers stopped a moment ago are finishing their removal
status=0
for base in "${PG_UNIT_TESTS_DIR:-/dev/shm}"/pg_unit_tests-*; do
  [[ -d "$base/run" ]] || continue
  left=$(find "$base/run" -mindepth 1 -maxdepth 1 | wc -l)
  if [[ $left -gt 0 ]]; then
    echo "check-clean: $left server director(y/ies) left in $base/run:" >&2
    ls -la "$base/run" >&2
    status=1
  fi
done
# The tests' own scratch base directories (/tmp/pgut-test-*) must be gone too, with their servers.
for scratch in /tmp/pgut-test-*; do
  [[ -e "$scratch" ]] || continue
  echo "check-clean: a test left $scratch behind" >&2
  status=1
done
procs=$(pgrep -f -a "(${PG_UNIT_TESTS_DIR:-/dev/shm}/pg_unit_tests-[0-9]+/run/|/tmp/pgut-test-)" || true)
if [[ -n "$procs" ]]; then
  echo "check-clean: server processes left running:" >&2
  echo "$procs" >&2
  status=1
fi
[[ $status -eq 0 ]] && echo "check-clean: no server process or directory left"
exit $status
