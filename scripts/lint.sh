#!/usr/bin/env bash
# Style and static analysis: clang-format (the repository's .clang-format) on every C++ file,
# clang-tidy (.clang-tidy) on the harness with the compile commands of the CMake build and on the
# extension with the flags PGXS compiles it with, and the extension's C++/PostgreSQL boundary
# (scripts/check-boundary.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

mapfile -t files < <(git ls-files '*.cpp' '*.hpp' | grep -v '^tests/fixtures/')
clang-format --dry-run --Werror "${files[@]}"
echo "lint: clang-format: ${#files[@]} files follow .clang-format"

# Runs a clang-tidy command (it exits non-zero on any finding: WarningsAsErrors) into a log, shows
# the findings and stops at the first part with any.
tidy() {
  local part=$1 log=$2
  shift 2
  set +e
  "$@" >"$log" 2>&1
  local status=$?
  set -e
  grep -E '(error|warning):' "$log" || true
  if [[ $status -ne 0 ]]; then
    echo "lint: clang-tidy found problems in the $part (full log: $log)" >&2
    exit 1
  fi
  echo "lint: clang-tidy: $part clean"
}

# run-clang-tidy runs the files in parallel.
tidy harness "$build/clang-tidy.log" run-clang-tidy -quiet -j "$(nproc)" -p "$build" "$PWD/harness/"

scripts/check-boundary.sh "${PG_CONFIG:-}"
echo "lint: PostgreSQL headers enter the extension's C++ only in extension/src/pg/"

# The extension is built by PGXS, which writes no compile_commands.json: its include paths, macros
# and standard come from the Makefile (extension/src/.clang-tidy adapts the checks to the backend).
read -r -a ext_flags < <(make -s --no-print-directory print-extension-tidy-flags)
tidy extension "$build/clang-tidy-extension.log" \
  xargs -P "$(nproc)" -a <(git ls-files 'extension/src/*.cpp') -I{} clang-tidy -quiet {} -- "${ext_flags[@]}"
