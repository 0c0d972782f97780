#!/usr/bin/env bash
# A private PostgreSQL server for the tests: its own data directory, port and password, on 127.0.0.1 only.
#   scripts/postgres.sh start DIR    creates and starts it; prints `export MLSEC_TEST_POSTGRES_URL=...`
#   scripts/postgres.sh stop DIR     stops it (and removes DIR)
#   scripts/postgres.sh restart DIR  stops and starts it again on the same port (fault tests)
#   scripts/postgres.sh down DIR / up DIR   stops the server keeping its data / starts it again (fault tests)
# MLSEC_PG_OPTIONS adds server options (e.g. "-c log_lock_waits=on"); the server log is DIR/server.log.
# Installs Debian's postgresql when no server binaries exist. As root it runs the server as user postgres.
set -euo pipefail
cmd=${1:?start|stop|restart}
dir=${2:?data directory}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(bindir)" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing postgresql from Debian" >&2
  $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq postgresql >&2
fi
BIN=$(bindir)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '%s\n' "$password" > "$dir.pw"
    [ "$(id -u)" = 0 ] && chown postgres "$dir.pw"
    as_owner "$BIN/initdb" -D "$dir/data" -U mlsec --auth=scram-sha-256 --pwfile="$dir.pw" >/dev/null
    echo "$port" > "$dir.port"
    as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c max_connections=200 ${MLSEC_PG_OPTIONS:-}" start >/dev/null
    echo "export MLSEC_TEST_POSTGRES_URL=postgres://mlsec:$password@127.0.0.1:$port/postgres?sslmode=disable"
    echo "export MLSEC_TEST_POSTGRES_DIR=$dir"
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir" "$dir.pw" "$dir.port"
    ;;
  restart|down|up)
    port=$(cat "$dir.port")
    if [ "$cmd" != up ]; then as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
    if [ "$cmd" != down ]; then
      as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c max_connections=200 ${MLSEC_PG_OPTIONS:-}" start >/dev/null
    fi
    ;;
  *) echo "usage: $0 start|stop|restart|down|up DIR" >&2; exit 2 ;;
esac
