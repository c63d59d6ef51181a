#!/usr/bin/env bash
# Side-by-side throughput and latency of:
#   agent  RL.CHECK over 100k random per-client buckets (sluice-agent)
#   ping   Redis PING (the cost of a no-op on the same socket type)
#   lua    Redis Lua token bucket (EVALSHA) over 100k keys
# all driven by the same redis-benchmark over Unix sockets, alternating
# A B C A B C ... in one run, for each configuration (clients x pipeline).
# Prints medians, the ratios and the issue's goals (issue 3, "Speed").
# Runs on demand, not in deploy/test.sh. The controller (and PostgreSQL)
# run too, on the same cores: lease traffic is part of the honest cost.
#
#   tests/bench/agent_vs_redis.sh [ROUNDS] [REQUESTS]
#   SLUICE_BENCH_BUILD=DIR   a Release build tree (default build/release,
#                            built with the two daemons if they are missing)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
ROUNDS="${1:-5}"
N="${2:-400000}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
for tool in redis-server redis-benchmark redis-cli curl; do
  command -v "$tool" >/dev/null || die "$tool not found: install redis-server, redis-tools and curl"
done
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

bench_controller bench
METRICS_PORT="$(free_port)"
"$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
  --socket "$WORK/agent.sock" --metrics "127.0.0.1:$METRICS_PORT" \
  >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
redis-server --port 0 --unixsocket "$WORK/redis.sock" --save '' \
  --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_for agent 10 redis-cli -s "$WORK/agent.sock" PING
wait_for redis 10 redis-cli -s "$WORK/redis.sock" PING

# Per client: 1000/s, burst 1000, so most checks are admitted, as in the Lua case.
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"name":"bench","domain":"api","match":{"client":"*"},"limit":1000,"period":"1s"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
wait_for rule 5 sh -c "redis-cli -s '$WORK/agent.sock' RL.CHECK api 0 client 1 | sed -n 2p | grep -qx 1000"
# The controller grants no leases while it learns (its first lease TTL, 2 s
# by default): measure the steady state.
sleep 2.5
SHA="$(redis-cli -s "$WORK/redis.sock" SCRIPT LOAD "$(cat "$ROOT/tests/bench/token_bucket.lua")")"

RESULTS="$WORK/results.csv"
run_case() {  # name clients pipeline
  local name="$1" c="$2" p="$3" line
  case "$name" in
    agent) line="$(redis-benchmark -s "$WORK/agent.sock" -c "$c" -P "$p" -n "$N" -r 100000 --csv RL.CHECK api 1 client __rand_int__ | tail -1)" ;;
    ping)  line="$(redis-benchmark -s "$WORK/redis.sock" -c "$c" -P "$p" -n "$N" --csv PING | tail -1)" ;;
    lua)   line="$(redis-benchmark -s "$WORK/redis.sock" -c "$c" -P "$p" -n "$N" -r 100000 --csv EVALSHA "$SHA" 1 tb:__rand_int__ 1000 1000 1 | tail -1)" ;;
  esac
  echo "$name,$c,$p,$line" >>"$RESULTS"
}

for conf in "50 16" "50 1" "1 1"; do
  set -- $conf
  n_saved="$N"
  [ "$1" = 1 ] && N=$((N / 8))   # one client is slow; keep the run bounded
  for round in $(seq "$ROUNDS"); do
    for name in agent ping lua; do run_case "$name" "$1" "$2"; done
  done
  N="$n_saved"
done

log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
log "agent: $(redis-cli -s "$WORK/agent.sock" RL.INFO | tr -d '\r' | grep -E '^(buckets|leases):' | tr '\n' ' ')"
# How the checks were decided (most should be admitted, as in the Lua case)
# and how many bucket lease requests they cost.
sleep 0.2  # the agent publishes its counters every 100 ms
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '
  /^sluice_agent_decisions_total/ && /result="allowed"/ {a += $2}
  /^sluice_agent_decisions_total/ && /result="refused"/ {r += $2}
  /^sluice_agent_lease_requests_total / {l = $2}
  END {if (a + r > 0) printf "==> agent checks: %d, refused %.1f%%, bucket lease requests %.2f per check\n", a + r, 100 * r / (a + r), l / (a + r)}' >&2

/usr/bin/python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
rows = {}
for r in csv.reader(open(sys.argv[1])):
    name, c, p = r[0], r[1], r[2]
    rps, p99 = float(r[4]), float(r[9])
    rows.setdefault((c, p), {}).setdefault(name, []).append((rps, p99))
print(f"{'clients':>7} {'pipe':>4} {'case':>6} {'median rps':>12} {'median p99 ms':>14}")
goals = []
for (c, p), cases in rows.items():
    med = {}
    for name in ("agent", "ping", "lua"):
        v = cases.get(name, [])
        med[name] = (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
        print(f"{c:>7} {p:>4} {name:>6} {med[name][0]:>12.0f} {med[name][1]:>14.3f}")
    vs_ping = med['agent'][0] / med['ping'][0]
    vs_lua = med['agent'][0] / med['lua'][0]
    p99 = med['agent'][1] / med['lua'][1]
    print(f"        ratios: agent/ping = {vs_ping:.2f}x   agent/lua = {vs_lua:.2f}x   p99 agent/lua = {p99:.2f}")
    goals.append((f"{c}x{p}: agent >= 0.9x PING", vs_ping >= 0.9, f"{vs_ping:.2f}x"))
    if p == "16":
        goals.append((f"{c}x{p}: agent >= 5x Lua", vs_lua >= 5, f"{vs_lua:.2f}x"))
    if p == "1":
        goals.append((f"{c}x{p}: agent p99 < Lua p99", p99 < 1, f"{med['agent'][1]:.3f} vs {med['lua'][1]:.3f} ms"))
print("goals:")
for what, ok, value in goals:
    print(f"  {'met    ' if ok else 'NOT met'}  {what:<28} ({value})")
PY
