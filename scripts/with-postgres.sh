#!/usr/bin/env bash
# Runs CMD... with a throwaway PostgreSQL server and FERROCAST_PG_URL
# pointing at it:
#
#   scripts/with-postgres.sh cargo test -p ferrocast-persistence-postgres
#
# Installs PostgreSQL from Debian's packages if `initdb` is missing, makes a
# data directory in a temporary folder owned by the `postgres` user, starts
# the server on a free TCP port of 127.0.0.1 (fsync on: the crash tests
# check durability), runs CMD, and always stops the server and removes the
# folder, whatever CMD does. CMD's exit status is the script's.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

# Debian keeps the server binaries in a versioned folder, off PATH.
find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

if ! bindir="$(find_bindir)"; then
    echo "with-postgres: installing postgresql (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bindir="$(find_bindir)" || {
        echo "with-postgres: no initdb/pg_ctl after installing postgresql" >&2
        exit 1
    }
fi

# As root, the server runs as `postgres` (initdb refuses root); otherwise
# as whoever runs this script.
if [ "$(id -u)" -eq 0 ]; then
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

# A free port: bind to port 0 and ask the kernel which one it gave. A
# tiny race remains until the server binds it; pg_ctl fails loudly then.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return 0
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

root="$(mktemp -d "${TMPDIR:-/tmp}/ferrocast-pg.XXXXXX")"
data="$root/data"
sock="$root/sock"
mkdir -p "$data" "$sock"
chmod 700 "$root"
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$root"
fi

started=0
cleanup() {
    local status=$?
    if [ "$started" -eq 1 ]; then
        as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 ||
            as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$root"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-locale >"$root/initdb.log" 2>&1 || {
    cat "$root/initdb.log" >&2
    exit 1
}

port="$(free_port)"
# Enough connections for parallel tests (each store holds a few).
if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w start \
    -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" >&2; then
    cat "$root/server.log" >&2 || true
    exit 1
fi
started=1

export FERROCAST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on $FERROCAST_PG_URL" >&2

# Not `exec`: the trap must still stop the server afterwards.
set +e
"$@"
status=$?
set -e
exit "$status"
