#!/usr/bin/env bash
# Builds a private PostgreSQL installation from a release source tarball, for the version matrix
# (Debian 12 packages PostgreSQL 15 only). Prints the installation's pg_config path on stdout.
#
#   scripts/build-postgres.sh [--cassert] [--cache DIR] postgresql-18.3.tar.xz
#
# The installation goes to DIR/<version>-<flavour>-<hash of the configure flags> (DIR defaults to
# $PGUT_PG_CACHE, else /var/cache/pg_unit_tests/postgres as root, ~/.cache/pg_unit_tests/postgres otherwise). Idempotent: a complete installation (its
# .complete marker is written last) is reused in milliseconds; an interrupted build leaves only a
# temporary directory that the next run removes. Concurrent runs for one key wait for each other
# (flock). Works as root and as any user; installs bison and flex first when they are missing.
#
# Exit codes: 0 built or cached, 1 the build failed (the log's path is printed), 2 usage error.
set -euo pipefail

usage() { echo "usage: $0 [--cassert] [--cache DIR] TARBALL" >&2; exit 2; }

cassert=no
# Under root the default is outside /root: the harness runs servers as an unprivileged user, who must
# be able to execute the installation.
if [[ $(id -u) -eq 0 ]]; then
  cache=${PGUT_PG_CACHE:-/var/cache/pg_unit_tests/postgres}
else
  cache=${PGUT_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg_unit_tests/postgres}
fi
tarball=
while [[ $# -gt 0 ]]; do
  case $1 in
    --cassert) cassert=yes ;;
    --cache) [[ $# -ge 2 ]] || usage; cache=$2; shift ;;
    --cache=*) cache=${1#--cache=} ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-postgres: unknown option $1" >&2; usage ;;
    *) [[ -z $tarball ]] || usage; tarball=$1 ;;
  esac
  shift
done
[[ -n $tarball ]] || usage
if [[ ! -r $tarball ]]; then
  echo "build-postgres: cannot read the source tarball '$tarball': give the path of a postgresql-X.Y.tar.xz" >&2
  exit 2
fi
version=$(basename "$tarball" | sed -nE 's/^postgresql-([0-9]+(\.[0-9]+)*)\.tar\.(xz|gz|bz2)$/\1/p')
if [[ -z $version ]]; then
  echo "build-postgres: '$tarball' is not named postgresql-X.Y.tar.xz (or .gz, .bz2): cannot tell its version" >&2
  exit 2
fi

# A server-only build: no ICU, readline or zlib (not needed by any suite here, and fewer packages).
# -O2 for the release flavour so that benchmark figures mean something; the assert-enabled flavour is
# what extension authors test against (--enable-debug for usable core dumps).
flags=(--without-icu --without-readline --without-zlib)
cflags="-O2"
flavour=release
if [[ $cassert == yes ]]; then
  flags+=(--enable-cassert --enable-debug)
  cflags="-O1 -g"
  flavour=cassert
fi
key_text="$version ${flags[*]} CFLAGS=$cflags"
key=$(printf '%s' "$key_text" | sha256sum | cut -c1-10)
dest="$cache/$version-$flavour-$key"

if [[ -f $dest/.complete ]]; then
  echo "build-postgres: PostgreSQL $version ($flavour) cached in $dest" >&2
  echo "$dest/bin/pg_config"
  exit 0
fi

missing=()
for tool in bison flex make gcc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "build-postgres: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    bison flex make gcc libc6-dev >&2
fi

umask 022  # the installation is run by the harness's unprivileged server user under root
mkdir -p "$cache"
exec 9>"$cache/.$version-$flavour-$key.lock"
flock 9
if [[ -f $dest/.complete ]]; then  # built by a concurrent run while we waited
  echo "$dest/bin/pg_config"
  exit 0
fi
rm -rf "$dest" "$dest".tmp-*

work=$(mktemp -d "${TMPDIR:-/tmp}/pgut-build-postgres.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$cache/$version-$flavour-$key.log"
staging="$dest.tmp-$$"
echo "build-postgres: building PostgreSQL $version ($flavour) into $dest (log: $log); this takes several minutes" >&2
start=$SECONDS
{
  tar -xf "$tarball" -C "$work"
  cd "$work/postgresql-$version"
  ./configure --prefix="$dest" "${flags[@]}" CFLAGS="$cflags"
  make -j"$(nproc)"
  make -C contrib -j"$(nproc)"
  # Installed under the final prefix's name through DESTDIR, then moved in place: pg_config and the
  # binaries' relative paths are those of $dest, and a half-installed tree is never at $dest.
  make install DESTDIR="$staging"
  make -C contrib install DESTDIR="$staging"
} >"$log" 2>&1 || {
  rm -rf "$staging"
  echo "build-postgres: the build of PostgreSQL $version failed; the last lines of $log:" >&2
  tail -n 15 "$log" >&2
  exit 1
}
mv "$staging$dest" "$dest"
rm -rf "$staging"
printf '%s\n' "$key_text" >"$dest/.complete"
echo "build-postgres: PostgreSQL $version ($flavour) built in $((SECONDS - start)) s" >&2
echo "$dest/bin/pg_config"
