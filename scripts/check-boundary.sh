#!/usr/bin/env bash
# Enforces two boundaries that DEVELOPERS.md writes down.
#
# The harness has one libpq wrapper, harness/src/pq/: no other harness file includes libpq-fe.h or
# calls a PQ* function (comments aside). The CLI's lazy loader (harness/cli/lazy_libpq.cpp), which
# defines the PQ* functions the executables call, is the one other file that names them.
#
# The extension's C++/PostgreSQL boundary: outside extension/src/pg/, C++
# reaches PostgreSQL only through the pg/*.hpp headers, which handle C linkage and the macros that
# clash with C++ once. So in every other file, #include "X" must name a file of the extension's own
# sources, #include <X> must not name a PostgreSQL server header, and PG_VERSION_NUM does not
# appear: differences between versions are helpers in pg/versions.hpp.
#
#   scripts/check-boundary.sh [PG_CONFIG]   both (the harness's only when harness/ is there)
#   scripts/check-boundary.sh --harness     the harness's alone
#
# PG_CONFIG (default: $PG_CONFIG, else pg_config on PATH) locates the server headers for the <X>
# check; without one, only the "X" check runs. make runs this before compiling the extension, the
# CMake build before compiling the harness, and scripts/lint.sh runs it too. Exit codes: 0 the
# rules hold, 1 one is broken (one line per offence).
set -euo pipefail
cd "$(dirname "$0")/.."

# harness_libpq: prints every use of libpq outside the wrapper; 1 if there is one.
harness_libpq() {
  local status=0 file line text
  while IFS= read -r file; do
    while IFS=: read -r line text; do
      echo "$file:$line: uses libpq directly: the harness reaches libpq only through harness/src/pq/ (extend pq::Connection there)" >&2
      status=1
    done < <(sed 's://.*$::' "$file" |
      grep -nE '#[[:space:]]*include[[:space:]]*[<"]libpq-fe\.h[">]|(^|[^[:alnum:]_])PQ[[:alnum:]_]+[[:space:]]*\(' |
      sed -E 's/^([0-9]+):[[:space:]]*/\1:/' || true)
  done < <(find harness -path harness/src/pq -prune -o -path harness/cli/lazy_libpq.cpp -prune -o \
    -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) -print | sort)
  return "$status"
}

if [[ ${1:-} == --harness ]]; then
  harness_libpq
  exit
fi
harness_broken=0
if [[ -d harness ]]; then
  harness_libpq || harness_broken=1
fi

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
exit $((broken | harness_broken))
