#!/usr/bin/env bash
# Fidelity harness (docs/leasing.md, "Measured"): a real controller,
# PostgreSQL and several real agents, driven by paced clients; prints a
# table of the leasing guarantees (safety, utilisation, convergence, lease
# traffic) with pass/fail, and exits non-zero when a goal fails. See fidelity.py for the definitions.
#
#   tests/fidelity/run.sh [--quick] [--agents N] [--keep] [--db CONNINFO] [scenario...]
#
# scenarios: limit shift lease (default: all; about 45 s in all).
# --db CONNINFO  use this PostgreSQL server (the harness creates and drops a
#                database of its own there); empty or absent: start a
#                private throwaway server.
# SLUICE_FIDELITY_BUILD  build directory (default build/release; built in
#                Release if the binaries are missing).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
BUILD="${SLUICE_FIDELITY_BUILD:-$ROOT/build/release}"
PYTHON=/usr/bin/python3   # Debian's: it has python3-redis

DB=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --db) [ $# -ge 2 ] || die "--db needs a conninfo, e.g. 'host=127.0.0.1 port=5432 user=postgres dbname=postgres'"
          DB="$2"; shift 2 ;;
    --db=*) DB="${1#--db=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

"$PYTHON" -c 'import redis' 2>/dev/null ||
  die "$PYTHON cannot import redis: install python3-redis (deploy/lib.sh install_deps does)"
command -v psql >/dev/null || die "psql not found: install postgresql-client"

if [ ! -x "$BUILD/agent/sluice-agent" ] || [ ! -x "$BUILD/controller/sluice-controller" ]; then
  log "building sluice-agent and sluice-controller in $BUILD"
  # A new tree is Release; an existing one keeps its build type.
  if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" >/dev/null
  else
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$BUILD" -j"$(nproc)" --target sluice-agent sluice-controller
fi

WORK=""
PY_PID=""
cleanup() {
  local rc=$?
  if [ -n "$PY_PID" ]; then
    kill "$PY_PID" 2>/dev/null || true
    wait "$PY_PID" 2>/dev/null || true
  fi
  if [ -n "$WORK" ]; then
    pg_stop "$WORK/pg"
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$DB" ]; then
  WORK="$(mktemp -d /tmp/sluice-fidelity-pg.XXXXXX)"; chmod 755 "$WORK"
  PG_PORT="$(free_port)"
  pg_start "$WORK/pg" "$PG_PORT" "$WORK/pgsock" fast
  DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
fi

# In the background so a signal reaches the trap at once; the trap stops
# the driver (which stops its processes by PID) before PostgreSQL.
"$PYTHON" "$ROOT/tests/fidelity/fidelity.py" --build "$BUILD" --server "$DB" "${ARGS[@]}" &
PY_PID=$!
set +e
wait "$PY_PID"
rc=$?
set -e
PY_PID=""
exit $rc
