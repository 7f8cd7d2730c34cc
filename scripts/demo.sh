#!/usr/bin/env bash
# pgbm's main job, for real, on a fresh machine: build pgbm, start a throwaway
# PostgreSQL cluster, load the Northwind sample database, dump it with `pgbm dump`,
# restore the dump into a new database with `pgbm restore`, and check that every
# table came back with the same rows. Then the same as a backup: an encrypted,
# parallel `pgbm backup` into a local repository, `pgbm list`, `pgbm verify`, and a
# parallel `pgbm restore` of it into a third database, checked the same way.
# Cleans up after itself.
#
# Usage: bash scripts/demo.sh        (PGBM_PG_BINDIR may point at other server binaries)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sample=${PGBM_SAMPLE:-tests/datasets/northwind/northwind.sql}
[[ -f $sample ]] || { echo "demo: sample database $sample not found" >&2; exit 1; }

bindir=${PGBM_PG_BINDIR:-}
if [[ -z $bindir ]]; then
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        [[ -x $dir/initdb ]] && bindir=$dir
    done
fi
[[ -x ${bindir:-}/initdb ]] || {
    echo "demo: no PostgreSQL server binaries; run: apt-get install postgresql-15" >&2
    exit 1
}

echo "== building pgbm"
cargo build --release --locked -q -p pgbm-cli
pgbm=$PWD/target/release/pgbm
[[ -n ${CARGO_TARGET_DIR:-} ]] && pgbm=$CARGO_TARGET_DIR/release/pgbm

work=$(mktemp -d /tmp/pgbm-demo-XXXXXX)
chmod 755 "$work"
# initdb and postgres refuse to run as root: run them as an unprivileged user.
as_pg=()
if [[ $(id -u) == 0 ]]; then
    pg_user=postgres
    id "$pg_user" >/dev/null 2>&1 || pg_user=nobody
    chown "$pg_user" "$work"
    as_pg=(runuser -u "$pg_user" --)
fi
port=$((20000 + RANDOM % 10000))
cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting a throwaway PostgreSQL ($("$bindir/postgres" --version)) on port $port"
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -E UTF8 --locale=C.UTF-8 -U postgres \
    --auth=trust -N >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
    -o "-p $port -k $work -c listen_addresses= -c fsync=off" start >/dev/null

export PGHOST=$work PGPORT=$port PGUSER=postgres
sql() { "$pgbm" restore -q -d "$1" - <<<"$2"; }

echo "== loading $(basename "$sample") into database 'source' (with pgbm restore)"
sql postgres "CREATE DATABASE source TEMPLATE template0;"
"$pgbm" restore -q -d source "$sample"

echo "== pgbm dump -d source -f $work/source.sql"
"$pgbm" dump -d source -f "$work/source.sql"
ls -l "$work/source.sql"

echo "== pgbm restore --create --target-db copy $work/source.sql"
"$pgbm" restore -d postgres --create --target-db copy "$work/source.sql"

# Dumps database $1 and compares it with the source's dump; they may differ only in
# the random \restrict key.
same_as_source() {
    "$pgbm" dump -d "$1" -f "$work/$1.sql"
    if diff <(grep -v '^\\\(un\)\?restrict' "$work/source.sql") \
            <(grep -v '^\\\(un\)\?restrict' "$work/$1.sql") >/dev/null; then
        echo "OK: database '$1' dumps identically ($(grep -c '^COPY ' "$work/source.sql") tables)"
    else
        echo "FAILED: database '$1' differs from the source" >&2
        exit 1
    fi
}

echo "== comparing every table's rows"
same_as_source copy

echo "== pgbm key generate; pgbm backup -j 2 into the repository $work/repo (encrypted)"
"$pgbm" key generate -o "$work/demo.key"
export PGBM_REPO=$work/repo
"$pgbm" backup -d source -j 2 --key-file "$work/demo.key" --tag demo
"$pgbm" list

echo "== pgbm verify latest"
"$pgbm" verify latest --key-file "$work/demo.key"

echo "== pgbm restore latest -j 2 --create --target-db from_backup"
"$pgbm" restore latest -d postgres --create --target-db from_backup -j 2 \
    --key-file "$work/demo.key"
same_as_source from_backup
