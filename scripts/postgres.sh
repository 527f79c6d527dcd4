#!/usr/bin/env bash
# Starts or stops a private PostgreSQL (Debian's postgresql package) on loopback, for the
# tests of Switchboard's PostgreSQL store: its own data directory, port and socket
# directory, so it never touches a PostgreSQL the machine already runs. The superuser is
# `postgres`, trusted on loopback only; fsync and synchronous_commit stay on, as a city's
# server would have them.
#   scripts/postgres.sh start DIR PORT   creates the cluster if needed, starts it, and
#                                        waits until it takes connections
#   scripts/postgres.sh stop DIR         stops it (fast shutdown)
#   scripts/postgres.sh crash-restart DIR  stops it as a crash would (-m immediate) and
#                                        starts it again
# As root it runs the server as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
# The server outlives this script: it must not hold open what the caller passed down
# (a pipe its caller reads to the end would never end).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
command=${1:?start or stop}
dir=${2:?a data directory}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/pg_ctl" ]; then bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); fi
if [ ! -x "$bindir/pg_ctl" ]; then
  echo "postgres.sh: no PostgreSQL server found; install Debian's postgresql package (scripts/bootstrap.sh test does)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi

case "$command" in
  start)
    port=${3:?a port}
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 > "$dir/initdb.log" 2>&1 \
        || { echo "postgres.sh: initdb failed; see $dir/initdb.log" >&2; tail -20 "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start > /dev/null; then
      echo "postgres.sh: PostgreSQL did not start; see $dir/server.log" >&2
      tail -20 "$dir/server.log" >&2
      exit 1
    fi
    ;;
  stop)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null 2>&1 || true
    ;;
  crash-restart)
    # As a power cut would leave it: stopped without a checkpoint (-m immediate), then
    # started again, recovering from its write-ahead log, with the options it had.
    # restart, not stop and start: it keeps the options the server was started with.
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m immediate -w -t 60 restart > /dev/null; then
      echo "postgres.sh: PostgreSQL did not start again; see $dir/server.log" >&2
      tail -20 "$dir/server.log" >&2
      exit 1
    fi
    ;;
  *) echo "postgres.sh: start, stop or crash-restart" >&2; exit 2 ;;
esac
