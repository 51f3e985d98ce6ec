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

# run-clang-tidy runs the files in parallel and exits non-zero on any finding (WarningsAsErrors).
set +e
run-clang-tidy -quiet -j "$(nproc)" -p "$build" "$PWD/harness/" >"$build/clang-tidy.log" 2>&1
status=$?
set -e
grep -E '(error|warning):' "$build/clang-tidy.log" || true
if [[ $status -ne 0 ]]; then
  echo "lint: clang-tidy found problems (full log: $build/clang-tidy.log)" >&2
  exit 1
fi
echo "lint: clang-tidy: harness clean"

scripts/check-boundary.sh "${PG_CONFIG:-}"
echo "lint: PostgreSQL headers enter the extension's C++ only in extension/src/pg/"

# The extension is built by PGXS, which writes no compile_commands.json: its include paths, macros
# and standard come from the Makefile (extension/src/.clang-tidy adapts the checks to the backend).
read -r -a ext_flags < <(make -s --no-print-directory print-extension-tidy-flags)
mapfile -t ext_files < <(git ls-files 'extension/src/*.cpp')
set +e
printf '%s\n' "${ext_files[@]}" |
  xargs -P "$(nproc)" -I{} clang-tidy -quiet {} -- "${ext_flags[@]}" >"$build/clang-tidy-extension.log" 2>&1
status=$?
set -e
grep -E '(error|warning):' "$build/clang-tidy-extension.log" || true
if [[ $status -ne 0 ]]; then
  echo "lint: clang-tidy found problems in the extension (full log: $build/clang-tidy-extension.log)" >&2
  exit 1
fi
echo "lint: clang-tidy: extension clean (${#ext_files[@]} files)"
