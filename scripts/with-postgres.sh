#!/usr/bin/env bash
# Runs a command beside a private, throw-away PostgreSQL cluster:
#   scripts/with-postgres.sh cargo test -p graphmailer --test it outbox::
# Installs Debian's postgresql package when its server programs are missing,
# creates a cluster in a temporary directory (no system service, no TCP:
# a Unix socket in that directory only), exports
#   GRAPHMAILER_TEST_POSTGRES       the URL of its `postgres` database
#   GRAPHMAILER_TEST_POSTGRES_CTL   a command taking `stop` or `start`, so a
#                                   test can take the server away and back
# runs the command, then stops the cluster and removes the directory.
set -euo pipefail

server_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

if ! bin=$(server_bin); then
    echo "with-postgres: installing Debian's postgresql package" >&2
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin=$(server_bin)
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

dir=$(mktemp -d "${TMPDIR:-/tmp}/graphmailer-pg.XXXXXX")
chmod 0755 "$dir"
# initdb refuses to run as root: the cluster belongs to the postgres user.
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as_owner=(runuser -u postgres --)
else
    as_owner=()
fi

ctl="$dir/ctl"
cat >"$ctl" <<CTL
#!/bin/sh
# stop | start the test cluster
case "\$1" in
    stop) exec ${as_owner[*]} "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
    start) exec ${as_owner[*]} "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
        -o "-k $dir -c listen_addresses=''" start >/dev/null ;;
    *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
CTL
chmod 0755 "$ctl"

cleanup() {
    "$ctl" stop 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
"$ctl" start

export GRAPHMAILER_TEST_POSTGRES="postgresql:///postgres?host=$dir&user=postgres"
export GRAPHMAILER_TEST_POSTGRES_CTL="$ctl"
"$@"
