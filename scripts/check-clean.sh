#!/usr/bin/env bash
# After the tests: no server of the harness may still run, and no server directory or shared
# memory segment of its may remain.
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
# POSIX shared memory (/dev/shm/PostgreSQL.*) of the harness's server user (pg_unit_tests under
# root, else the caller) that no process has open or mapped: left by one of its PostgreSQL
# processes that died without cleaning up (initdb's backends use POSIX segments). Segments of other
# users (a system PostgreSQL's) are theirs, and segments in use belong to something still running.
if [[ $(id -u) -eq 0 ]]; then server_uid=$(id -u pg_unit_tests 2>/dev/null); else server_uid=$(id -u); fi
if [[ -n "$server_uid" ]]; then
  leaked=()
  while IFS= read -r -d '' segment; do
    grep -qsF "$segment" /proc/[0-9]*/maps && continue
    [[ -n $(find /proc/[0-9]*/fd -lname "$segment" -print -quit 2>/dev/null) ]] && continue
    leaked+=("$segment")
  done < <(find /dev/shm -maxdepth 1 -name 'PostgreSQL.*' -uid "$server_uid" -print0 2>/dev/null)
  if [[ ${#leaked[@]} -gt 0 ]]; then
    echo "check-clean: ${#leaked[@]} shared memory segment(s) of uid $server_uid left that nothing uses:" >&2
    ls -l "${leaked[@]}" >&2
    status=1
  fi
fi
[[ $status -eq 0 ]] && echo "check-clean: no server process, directory or shared memory left"
exit $status
