#!/usr/bin/env bash
# Enforces the extension's C++/PostgreSQL boundary (DEVELOPERS.md): outside extension/src/pg/, C++
# reaches PostgreSQL only through the pg/*.hpp headers, which handle C linkage and the macros that
# clash with C++ once. So in every other file, #include "X" must name a file of the extension's own
# sources, #include <X> must not name a PostgreSQL server header, and PG_VERSION_NUM does not
# appear: differences between versions are helpers in pg/versions.hpp.
#
#   scripts/check-boundary.sh [PG_CONFIG]
#
# PG_CONFIG (default: $PG_CONFIG, else pg_config on PATH) locates the server headers for the <X>
# check; without one, only the "X" check runs. make runs this before compiling the extension, and
# scripts/lint.sh runs it too. Exit codes: 0 the rule holds, 1 it is broken (one line per include).
set -euo pipefail
cd "$(dirname "$0")/.."
src=extension/src
pg_config=${1:-${PG_CONFIG:-$(command -v pg_config || true)}}
server_include=
if [[ -n $pg_config ]] && server_include=$("$pg_config" --includedir-server 2>/dev/null); then
  :
else
  server_include=
fi

broken=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  while IFS=: read -r line text; do
    if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      name=${BASH_REMATCH[1]}
      [[ -f $src/$name || -f $dir/$name ]] && continue
    elif [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
      name=${BASH_REMATCH[1]}
      [[ -n $server_include && -f $server_include/$name ]] || continue
    else
      continue
    fi
    echo "$file:$line: includes \"$name\" directly: PostgreSQL headers enter C++ only in $src/pg/ (add it to $src/pg/postgres.hpp and include \"pg/postgres.hpp\")" >&2
    broken=1
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file" || true)
  while IFS=: read -r line _; do
    echo "$file:$line: tests PG_VERSION_NUM: differences between PostgreSQL versions live in $src/pg/versions.hpp (add a helper there)" >&2
    broken=1
  done < <(grep -n 'PG_VERSION_NUM' "$file" || true)
done < <(find "$src" -path "$src/pg" -prune -o -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) -print | sort)
exit "$broken"
