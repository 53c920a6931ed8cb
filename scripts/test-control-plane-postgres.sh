#!/usr/bin/env bash
# Runs the control plane's store and API suite against a real PostgreSQL as well as SQLite.
# Starts a private cluster (Debian `postgresql`) on a loopback port in a temporary directory,
# points REMIT_TEST_POSTGRES_URL at it, runs the tests, then the multi-process delegation test
# (scripts/test-delegation-multiprocess.py: two control planes on one database), the restart test
# (scripts/test-postgres-restart.py: the server restarted under load), and removes the cluster.
# Usage: scripts/test-control-plane-postgres.sh [extra swift test arguments]
set -euo pipefail

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [[ ! -x "$PG_BIN/initdb" ]]; then
  echo "PostgreSQL server binaries not found; install Debian's postgresql package or set PG_BIN" >&2
  exit 2
fi
PORT="${REMIT_TEST_POSTGRES_PORT:-55432}"
DIR="$(mktemp -d /tmp/remit-pg.XXXXXX)"
# initdb refuses to run as root; run the cluster as the postgres user then.
RUN=()
if [[ "$(id -u)" == "0" ]]; then
  chown postgres "$DIR"
  RUN=(runuser -u postgres --)
fi
cleanup() {
  "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
  # The server's log outlives the cluster, for a failure's diagnosis.
  cp "$DIR/server.log" /tmp/remit-pg-server.log 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"${RUN[@]}" "$PG_BIN/initdb" -D "$DIR/data" -U remit --auth=trust --no-sync >/dev/null
"${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=600" start >/dev/null

export REMIT_TEST_POSTGRES_URL="postgres://remit@127.0.0.1:$PORT/postgres?sslmode=disable"
cd "$(dirname "$0")/.."
status=0
swift test --filter RemitControlPlaneTests "$@" || status=$?

# Two `remit control-plane` processes on one database: parallel delegation hops on one chain
# lose no edge and miss no cycle. Needs the remit binary (REMIT_BIN, default .build/debug/remit).
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U remit remit_multiprocess
python3 scripts/test-delegation-multiprocess.py \
  "postgres://remit@127.0.0.1:$PORT/remit_multiprocess?sslmode=disable" || status=1

# The server restarted under a control plane with writes in flight: it answers 503 meanwhile,
# reconnects, and loses no acknowledged write.
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U remit remit_restart
python3 scripts/test-postgres-restart.py "postgres://remit@127.0.0.1:$PORT/remit_restart?sslmode=disable" \
  "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -m fast -w restart || status=1
exit "$status"
