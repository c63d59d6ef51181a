#!/usr/bin/env bash
# A fleet of simulated agents against 1, then 2 controllers sharing one
# private PostgreSQL (docs/scaling.md quotes the numbers).
#
# For each controller count, starts that many Release controllers on
# loopback (the first applies the migrations), then runs
# tests/bench/fleet_sim: AGENTS simulated agents in one process, each with
# its own ZeroMQ DEALER to every controller, saying Hello and a Heartbeat
# every second and following rules and the controller set as sluice-agent
# does. fleet_sim reports:
#   - rule propagation: CHANGES changes of a rule through REST (PUT on the
#     first controller), the time until each agent holds the new rules
#     revision (p50, p99, max over all agents and changes), idle and under
#     the lease load;
#   - lease lines per second per controller core: BUCKETS buckets per agent
#     (one agent each), one lease line per bucket a second to its owner;
#     each controller's CPU (utime + stime, /proc/PID/stat) over
#     LEASE_SECONDS against the lines it answered;
#   - memory: each controller's RSS growth (/proc/PID/status) from idle to
#     AGENTS connected agents, and from there to its share of the buckets;
#   - CPU with the fleet idle (heartbeats alone), and of the usage writer
#     (every agent sends a usage report a second while leasing, to the
#     first controller, as busy agents do);
#   - the controllers' PostgreSQL connections (pg_stat_activity).
# The simulator and the controllers share the machine's cores: the load
# average before and after is printed with the numbers.
#
# Runs on demand, not in deploy/test.sh:
#   tests/bench/fleet.sh [AGENTS] [BUCKETS] [LEASE_SECONDS]  (1000 50 20)
#   SLUICE_BENCH_CONTROLLERS="1 2"  controller counts, one run each
#   SLUICE_BENCH_CHANGES=5          rule changes per propagation round
#   SLUICE_BENCH_BUILD: a build directory (default build/release, brought
#   up to date first, fleet_sim with it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
AGENTS="${1:-1000}"
BUCKETS="${2:-50}"
LEASE_SECONDS="${3:-20}"
COUNTS="${SLUICE_BENCH_CONTROLLERS:-1 2}"
CHANGES="${SLUICE_BENCH_CHANGES:-5}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
cmake --build "$BUILD" -j"$(nproc)" --target fleet_sim >/dev/null
# The simulator holds two descriptors per agent and controller (the
# DEALER's mailbox and its connection); each controller one per agent.
MAX_COUNT="$(tr ' ' '\n' <<<"$COUNTS" | sort -n | tail -1)"
FILES=$(( AGENTS * 2 * MAX_COUNT + 1024 ))
[ "$FILES" -le "$(ulimit -Hn)" ] ||
  die "$AGENTS agents and $MAX_COUNT controllers need $FILES open files, the hard limit is $(ulimit -Hn) (ulimit -Hn): run fewer agents"
ulimit -n "$FILES"

WORK="$(mktemp -d /tmp/sluice-fleet.XXXXXX)"; chmod 755 "$WORK"
PIDS=()
trap bench_cleanup EXIT
PG_PORT="$(free_port)"
pg_start "$WORK/pg" "$PG_PORT" "$WORK/pgsock" fast
DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
TOKEN=bench-token

# start_controllers N: N controllers, one after the other; sets
# CONTROLLER_PIDS, HTTP_PORTS, ENDPOINTS.
start_controllers() {
  CONTROLLER_PIDS=(); HTTP_PORTS=(); ENDPOINTS=()
  local i http zmq
  for i in $(seq 0 $(( $1 - 1 ))); do
    http="$(free_port)"; zmq="$(free_port)"
    SLUICE_ADMIN_TOKEN=$TOKEN "$BUILD/controller/sluice-controller" \
      --db "$DB" --http "127.0.0.1:$http" --agents "tcp://127.0.0.1:$zmq" \
      >"$WORK/controller.$1.$i.log" 2>&1 &
    PIDS+=($!); CONTROLLER_PIDS+=($!)
    wait_for "controller $i" 30 curl -sf "http://127.0.0.1:$http/readyz" ||
      { cat "$WORK/controller.$1.$i.log"; exit 1; }
    HTTP_PORTS+=("$http"); ENDPOINTS+=("tcp://127.0.0.1:$zmq")
  done
}

stop_controllers() {
  local pid
  for pid in "${CONTROLLER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${CONTROLLER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# create_rule NAME DOMAIN LIMIT: prints the new rule's id.
create_rule() {
  curl -sf -H "Authorization: Bearer $TOKEN" \
    -d "{\"name\":\"$1\",\"domain\":\"$2\",\"match\":{\"client\":\"*\"},\"limit\":$3,\"period\":\"1s\"}" \
    "http://127.0.0.1:${HTTP_PORTS[0]}/api/v1/rules" |
    sed 's/.*"id": *\([0-9]*\).*/\1/'
}

RULE=""
for count in $COUNTS; do
  start_controllers "$count"
  if [ -z "$RULE" ]; then
    RULE="$(create_rule fleet fleet 1000000)"
    PROBE="$(create_rule fleet-probe fleet-probe 1000)"
    [ -n "$RULE" ] && [ -n "$PROBE" ] || die "could not create the rules"
  fi
  sleep 2.5  # the controllers grant no leases while they learn (2 s)
  echo "== $count controller(s), $AGENTS agents x $BUCKETS buckets, load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
  timeout 600 "$BUILD/tests/bench/fleet_sim" \
    --endpoints="$(IFS=,; echo "${ENDPOINTS[*]}")" \
    --pids="$(IFS=,; echo "${CONTROLLER_PIDS[*]}")" \
    --http-port="${HTTP_PORTS[0]}" --token="$TOKEN" --rule="$RULE" \
    --probe-rule="$PROBE" --agents="$AGENTS" --buckets="$BUCKETS" \
    --changes="$CHANGES" --lease-seconds="$LEASE_SECONDS" ||
    { tail -5 "$WORK"/controller.*.log; die "fleet_sim failed (logs above)"; }
  echo "   PostgreSQL connections from the controllers: $(psql "$DB" -Atc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")"
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  stop_controllers
done
