#!/usr/bin/env bash
# Side-by-side decisions per second and latency of the agent's three doors,
# each check a random one of 100k per-client buckets, no pipelining (each
# client waits for its answer):
#   resp   RL.CHECK on the Unix socket (redis-benchmark -P 1)
#   grpc   Envoy's ShouldRateLimit on --grpc (tests/bench/door_load.cc: one
#          channel per client, one call in flight each)
#   http   GET /v1/check/... on --http-check (door_load: one keep-alive
#          connection per client)
# alternating resp grpc http resp grpc http ... in one run, for each
# number of clients. Prints medians and the ratios to RESP; the CPU time
# per decision of the agent's event loop (the one thread every door shares)
# and of the whole agent (with gRPC's threads), which stay steady on a
# shared machine when throughput does not; and the client's own CPU per
# request (the load generators differ: redis-benchmark and the HTTP client
# run on one thread, the gRPC client on gRPC's threads).
# Runs on demand, not in deploy/test.sh. The controller (and PostgreSQL)
# run too, on the same cores, as in agent_vs_redis.sh.
#
#   tests/bench/doors_vs_resp.sh [ROUNDS] [REQUESTS]
#   SLUICE_BENCH_BUILD=DIR      a Release build tree (default build/release)
#   SLUICE_BENCH_CLIENTS="50 1" the numbers of clients to run
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
ROUNDS="${1:-5}"
N="${2:-200000}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
cmake --build "$BUILD" -j"$(nproc)" --target door_load >/dev/null
LOAD="$BUILD/tests/bench/door_load"
for tool in redis-benchmark redis-cli curl; do
  command -v "$tool" >/dev/null || die "$tool not found: install redis-tools and curl"
done
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

bench_controller doors
GRPC_PORT="$(free_port)"
HTTP_CHECK_PORT="$(free_port)"
"$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
  --socket "$WORK/agent.sock" --grpc "127.0.0.1:$GRPC_PORT" \
  --http-check "127.0.0.1:$HTTP_CHECK_PORT" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=($AGENT_PID)
wait_for agent 10 redis-cli -s "$WORK/agent.sock" PING

# Per client: 1000/s, burst 1000: most checks are admitted.
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"name":"bench","domain":"api","match":{"client":"*"},"limit":1000,"period":"1s"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
wait_for rule 5 sh -c "curl -s 'http://127.0.0.1:$HTTP_CHECK_PORT/v1/check/api?client=1&cost=0' | grep -q '\"limit\": 1000'"
sleep 2.5  # the controller's learning period: measure the steady state

RESULTS="$WORK/results.csv"
# CPU ticks (user + system) of the agent's event loop (its main thread) and
# of the whole agent: what a decision costs the agent, steadier than
# throughput on a shared machine.
loop_ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/task/$AGENT_PID/stat"; }
agent_ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
run_case() {  # name clients requests
  local name="$1" c="$2" n="$3" cpu line loop0 agent0
  loop0="$(loop_ticks)"; agent0="$(agent_ticks)"
  case "$name" in
    resp)
      local TIMEFORMAT='%U %S'
      cpu="$( { time redis-benchmark -s "$WORK/agent.sock" -c "$c" -P 1 -n "$n" \
        -r 100000 --csv RL.CHECK api 1 client __rand_int__ | tail -1 >"$WORK/line"; } 2>&1 )"
      # "test","rps","avg","min","p50","p95","p99","max"
      line="$(tr -d '"' <"$WORK/line" | awk -F, -v c="$c" -v n="$n" -v cpu="$cpu" '
        {split(cpu, t, " "); printf "resp,%s,%s,%s,%.3f,%.3f", c, $2, $5, $7, (t[1] + t[2]) * 1e6 / n}')"
      ;;
    grpc|http)
      local port="$GRPC_PORT"; [ "$name" = http ] && port="$HTTP_CHECK_PORT"
      # mode,clients,requests,seconds,rps,p50,p99,refused,errors,cpu
      line="$("$LOAD" "$name" "127.0.0.1:$port" "$c" "$n" 100000 |
        awk -F, '{printf "%s,%s,%s,%s,%s,%s", $1, $2, $5, $6, $7, $10}')"
      ;;
  esac
  # name,clients,rps,p50_ms,p99_ms,client_cpu_us,loop_us,agent_us
  echo "$line,$(awk -v a="$loop0" -v b="$(loop_ticks)" -v t="$TICK_US" -v n="$n" 'BEGIN {printf "%.2f", (b - a) * t / n}'),$(awk -v a="$agent0" -v b="$(agent_ticks)" -v t="$TICK_US" -v n="$n" 'BEGIN {printf "%.2f", (b - a) * t / n}')" >>"$RESULTS"
}

for c in ${SLUICE_BENCH_CLIENTS:-50 1}; do
  n="$N"; [ "$c" = 1 ] && n=$((N / 8))   # one client is slow; keep it bounded
  for round in $(seq "$ROUNDS"); do
    for name in resp grpc http; do run_case "$name" "$c" "$n"; done
  done
done

log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
rows = {}
for name, c, *values in csv.reader(open(sys.argv[1])):
    rows.setdefault(int(c), {}).setdefault(name, []).append(
        tuple(float(v) for v in values))
print(f"{'clients':>7} {'door':>5} {'median rps':>11} {'p50 ms':>8} {'p99 ms':>8} "
      f"{'loop us/dec':>11} {'agent us/dec':>12} {'client us/req':>13}   runs (rps)")
for c in sorted(rows, reverse=True):
    med = {}
    for name in ("resp", "grpc", "http"):
        v = rows[c].get(name, [])
        med[name] = [statistics.median(x[i] for x in v) for i in range(6)]
        runs = " ".join(f"{x[0]:.0f}" for x in v)
        m = med[name]
        print(f"{c:>7} {name:>5} {m[0]:>11.0f} {m[1]:>8.3f} {m[2]:>8.3f} "
              f"{m[4]:>11.1f} {m[5]:>12.1f} {m[3]:>13.1f}   {runs}")
    for name in ("grpc", "http"):
        print(f"        {name}/resp: rps {med[name][0] / med['resp'][0]:.2f}x, "
              f"p99 {med[name][2] / med['resp'][2]:.2f}x")
PY
