#!/usr/bin/env bash
# Installs the Debian packages pg_unit_tests needs to build, test and benchmark.
# Idempotent: it does nothing when every package is already installed; otherwise it runs
# `apt-get update` first, then installs only what is missing. Needs root (or sudo).
#
# PostgreSQL is the distribution's: 15 on Debian 12 (PGUT_PG_MAJOR=N picks another major version
# where the package sources have it, such as apt.postgresql.org). Other versions for the test matrix
# are built from source by scripts/build-postgres.sh.
set -euo pipefail

major=${PGUT_PG_MAJOR:-15}
packages=(
  # PostgreSQL: the server, PGXS + pg_regress, libpq
  "postgresql-$major" "postgresql-server-dev-$major" "postgresql-client-$major" libpq-dev
  # toolchain
  g++ make cmake pkg-config clang-format clang-tidy
  # libraries the harness uses instead of hand-written code
  libcli11-dev libfmt-dev nlohmann-json3-dev libpugixml-dev
  libssl-dev  # libcrypto's SHA-256 (libpq links it anyway)
  # tests and benchmarks; IPC::Run for PostgreSQL's TAP test modules, xmllint for JUnit reports
  libgtest-dev libgmock-dev googletest valgrind libipc-run-perl libxml2-utils
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# Toolchains of the language packages (bindings/), from Debian only where the command is missing:
# machines of this kind come with Python, Node.js, Go, a JDK and Maven installed outside Debian.
command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3 python3-venv)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
command -v go >/dev/null || missing+=(golang-go)
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: missing packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
