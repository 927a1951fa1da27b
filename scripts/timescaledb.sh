#!/usr/bin/env bash
# Makes the TimescaleDB extension available to this machine's PostgreSQL for the tests' second
# store (called by scripts/test.sh). Debian has no TimescaleDB package, so when the server lacks
# it, it is built from the source tarball in $EBOK_TIMESCALEDB_SOURCE (default
# ../shared/timescaledb, beside the checkout) with Debian's postgresql-server-dev and cmake, and
# installed into PostgreSQL's own folders (about 2 minutes on 2 cores, once per machine).
#
# An operator installs it from Timescale's package repository instead (README, "TimescaleDB").
#
# Prints one line saying what it did. Exit status: 0 when the extension is installed (already, or
# now), 3 when it is not and cannot be (no source here): the caller runs the plain store only.
# Any other failure (the build broke) is an error.
#
#   scripts/timescaledb.sh DATA_FOLDER
set -euo pipefail
cd "$(dirname "$0")/.."

data="${1:?usage: scripts/timescaledb.sh DATA_FOLDER}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"
source_dir="${EBOK_TIMESCALEDB_SOURCE:-../shared/timescaledb}"
log="$data/timescaledb-build.log"

apt() {
    if [[ $EUID -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get "$@"
    else
        sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@"
    fi
}
apt_install() {
    apt install -y --no-install-recommends "$@" >>"$log" 2>&1 ||
        { apt update >>"$log" 2>&1 && apt install -y --no-install-recommends "$@" >>"$log" 2>&1; }
}

# The server the stack will run: the newest Debian-layout PostgreSQL (as src/stack/packages.rs).
newest_major() {
    ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1
}
major="$(newest_major)"
if [[ -z "$major" ]]; then
    apt_install postgresql
    major="$(newest_major)"
fi
sharedir="/usr/share/postgresql/$major/extension"
if compgen -G "$sharedir/timescaledb--*.sql" >/dev/null &&
    [[ -f "/usr/lib/postgresql/$major/lib/timescaledb.so" ]]; then
    version="$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$sharedir/timescaledb.control")"
    echo "TimescaleDB $version is installed for PostgreSQL $major"
    exit 0
fi

tarball="$(ls "$source_dir"/timescaledb-*.tar.gz 2>/dev/null | sort -V | tail -1 || true)"
if [[ -z "$tarball" ]]; then
    echo "TimescaleDB is not installed and its source is not in $source_dir: testing plain PostgreSQL only"
    exit 3
fi

name="$(basename "$tarball" .tar.gz)"
echo "building ${name/-/ } for PostgreSQL $major from $tarball (log: $log)"
: >"$log"
apt_install "postgresql-server-dev-$major" cmake gcc make
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
tar xzf "$tarball" -C "$build"
(
    cd "$build/$name"
    # Tests and linters are the upstream project's; we only need the libraries.
    ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF \
        -DPG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config"
    cd build
    make -j"$(nproc)"
    if [[ $EUID -eq 0 ]]; then make install; else sudo -n make install; fi
) >>"$log" 2>&1 || { tail -20 "$log" >&2; echo "building TimescaleDB failed; see $log" >&2; exit 1; }
echo "installed ${name/-/ } for PostgreSQL $major"
