#!/usr/bin/env bash
# The controller's cost per lease line: CPU time of its lease thread (the
# thread named sluice-lease, `perf stat -t`) over a round of checks, divided
# by the bucket lease lines the agent sent in that round
# (sluice_agent_lease_requests_total). The load is agent_vs_redis.sh's:
# RL.CHECK over 100k random per-client buckets (1000/s each), 50 clients,
# pipeline 16, with redis-benchmark over the agent's Unix socket.
#
# With several build trees, each gets a controller and an agent of its own
# (one PostgreSQL, the same rule) and the rounds alternate A B A B ..., so
# that the trees are compared side by side, under the same load of the
# machine. Runs on demand, not in deploy/test.sh; needs perf (linux-perf)
# and permission to count another thread (root, or perf_event_paranoid <= 1).
#
#   tests/bench/controller_lease_cost.sh [ROUNDS] [REQUESTS]
#   SLUICE_BENCH_BUILDS="DIR [DIR...]"  trees holding controller/sluice-controller
#                                       and agent/sluice-agent, used as they
#                                       are (default: build/release, built
#                                       first)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
ROUNDS="${1:-5}"
N="${2:-400000}"
if [ -z "${SLUICE_BENCH_BUILDS:-}" ]; then
  BUILD="$ROOT/build/release"
  bench_daemons "$BUILD"
  SLUICE_BENCH_BUILDS="$BUILD"
fi
read -r -a BUILDS <<<"$SLUICE_BENCH_BUILDS"
for tool in perf redis-benchmark redis-cli curl; do
  command -v "$tool" >/dev/null || die "$tool not found: install linux-perf, redis-tools and curl"
done
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

WORK="$(mktemp -d /tmp/sluice-lease-cost.XXXXXX)"; chmod 755 "$WORK"
PIDS=()
trap bench_cleanup EXIT
PG_PORT="$(free_port)"
pg_start "$WORK/pg" "$PG_PORT" "$WORK/pgsock" fast
DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
TOKEN=bench-token

CONTROLLER_PIDS=(); HTTP_PORTS=(); METRICS_PORTS=()
for i in "${!BUILDS[@]}"; do
  build="${BUILDS[$i]}"
  http="$(free_port)"; zmq="$(free_port)"; metrics="$(free_port)"
  # One after the other: the first applies the migrations.
  SLUICE_ADMIN_TOKEN=$TOKEN "$build/controller/sluice-controller" --db "$DB" \
    --http "127.0.0.1:$http" --agents "tcp://127.0.0.1:$zmq" \
    >"$WORK/controller.$i.log" 2>&1 &
  PIDS+=($!); CONTROLLER_PIDS+=($!)
  wait_for "controller $i" 30 curl -sf "http://127.0.0.1:$http/readyz" ||
    { cat "$WORK/controller.$i.log"; exit 1; }
  "$build/agent/sluice-agent" --controller "tcp://127.0.0.1:$zmq" \
    --socket "$WORK/agent.$i.sock" --metrics "127.0.0.1:$metrics" \
    >"$WORK/agent.$i.log" 2>&1 &
  PIDS+=($!)
  HTTP_PORTS+=("$http"); METRICS_PORTS+=("$metrics")
  wait_for "agent $i" 10 redis-cli -s "$WORK/agent.$i.sock" PING
done

curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"name":"bench","domain":"api","match":{"client":"*"},"limit":1000,"period":"1s"}' \
  "http://127.0.0.1:${HTTP_PORTS[0]}/api/v1/rules"
for i in "${!BUILDS[@]}"; do
  wait_for "rule at agent $i" 10 sh -c "redis-cli -s '$WORK/agent.$i.sock' RL.CHECK api 0 client 1 | sed -n 2p | grep -qx 1000"
done
sleep 2.5  # the controllers grant no leases while they learn (2 s)

lease_thread() {  # PID: the tid of the thread named sluice-lease
  grep -lx sluice-lease /proc/"$1"/task/*/comm | head -1 | cut -d/ -f5
}
lease_lines() {  # METRICS_PORT: the agent's lease lines so far
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk '/^sluice_agent_lease_requests_total / {print $2}'
}

RESULTS="$WORK/results.csv"
for round in $(seq "$ROUNDS"); do
  for i in "${!BUILDS[@]}"; do
    tid="$(lease_thread "${CONTROLLER_PIDS[$i]}")"
    [ -n "$tid" ] || die "no thread named sluice-lease in controller $i (${BUILDS[$i]}): built before it was named?"
    before="$(lease_lines "${METRICS_PORTS[$i]}")"
    perf stat -e task-clock -t "$tid" -x, -o "$WORK/perf.csv" &
    perf_pid=$!
    redis-benchmark -s "$WORK/agent.$i.sock" -c 50 -P 16 -n "$N" -r 100000 \
      --csv RL.CHECK api 1 client __rand_int__ >/dev/null
    sleep 0.3  # the last lease lines reach the controller
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    sleep 0.2  # the agent publishes its counters every 100 ms
    after="$(lease_lines "${METRICS_PORTS[$i]}")"
    msec="$(awk -F, '/task-clock/ {print $1}' "$WORK/perf.csv")"
    echo "$i,$round,$msec,$before,$after" >>"$RESULTS"
    awk -F, -v b="${BUILDS[$i]}" '{printf "==> %s round %d: %.0f ms of the lease thread, %d lines: %.3f us per line\n", b, $2, $3, $5 - $4, $3 * 1000 / ($5 - $4)}' <<<"$(tail -1 "$RESULTS")" >&2
  done
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

/usr/bin/python3 - "$RESULTS" "${BUILDS[@]}" <<'PY'
import csv, statistics, sys
builds = sys.argv[2:]
per = {}
for i, _, msec, before, after in csv.reader(open(sys.argv[1])):
    per.setdefault(int(i), []).append(float(msec) * 1000 / (float(after) - float(before)))
print(f"{'build':<40} {'median us/line':>15} {'min':>8} {'max':>8}")
medians = []
for i, build in enumerate(builds):
    v = per[i]
    medians.append(statistics.median(v))
    print(f"{build:<40} {medians[-1]:>15.3f} {min(v):>8.3f} {max(v):>8.3f}")
for i in range(1, len(builds)):
    print(f"ratio {builds[i]} / {builds[0]}: {medians[i] / medians[0]:.3f}")
PY
