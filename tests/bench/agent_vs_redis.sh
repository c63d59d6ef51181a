#!/usr/bin/env bash
# Side-by-side throughput and latency of:
#   agent  RL.CHECK over 100k random per-client buckets (sluice-agent)
#   ping   Redis PING (the cost of a no-op on the same socket type)
#   lua    Redis Lua token bucket (EVALSHA) over 100k keys
#   same5  Redis SMISMEMBER s:<rand> a b c d e: a no-op with the agent's
#          reply shape (5 integers), 2 arguments more in the request
#   same3  Redis SMISMEMBER s:<rand> a b c: a no-op with the agent's request
#          shape (5 arguments, one random), 3 integers in the reply
# (redis-benchmark is one thread: at pipeline 16 its own work per request,
# which grows with the request and reply, bounds what any server can show.
# same5/same3 bracket that bound: Redis doing nothing, in the agent's shape.)
# all driven by the same redis-benchmark over Unix sockets, alternating
# A B C A B C ... in one run, for each configuration (clients x pipeline).
# Prints medians, the ratios and the speed goals (docs/performance.md):
# agent >= 0.9x PING everywhere, >= 5x Lua at pipeline 16, p99 below Lua's
# at pipeline 1.
# Runs on demand, not in deploy/test.sh. The controller (and PostgreSQL)
# run too, on the same cores: lease traffic is part of the honest cost.
#
#   tests/bench/agent_vs_redis.sh [ROUNDS] [REQUESTS]
#   SLUICE_BENCH_BUILD=DIR   a Release build tree (default build/release,
#                            brought up to date first)
#   SLUICE_BENCH_CONFIGS="50x16 50x1 1x1"   the configurations to run
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
bench() {  # socket args...: one redis-benchmark run, its CSV line in $WORK/line
  local sock="$1"; shift
  redis-benchmark -s "$WORK/$sock" -c "$c" -P "$p" -n "$N" --csv "$@" | tail -1 >"$WORK/line"
}
run_case() {  # name clients pipeline
  local name="$1" c="$2" p="$3" cpu
  local TIMEFORMAT='%U %S'  # the client's own CPU time (user, system)
  cpu="$( { time case "$name" in
    agent) bench agent.sock -r 100000 RL.CHECK api 1 client __rand_int__ ;;
    ping)  bench redis.sock PING ;;
    lua)   bench redis.sock -r 100000 EVALSHA "$SHA" 1 tb:__rand_int__ 1000 1000 1 ;;
    same5) bench redis.sock -r 100000 SMISMEMBER s:__rand_int__ a b c d e ;;
    same3) bench redis.sock -r 100000 SMISMEMBER s:__rand_int__ a b c ;;
  esac; } 2>&1 )"
  # name,clients,pipeline,client CPU us per request,<redis-benchmark CSV>
  echo "$name,$c,$p,$(awk -v n="$N" '{printf "%.3f", ($1 + $2) * 1e6 / n}' <<<"$cpu"),$(cat "$WORK/line")" >>"$RESULTS"
}

for conf in ${SLUICE_BENCH_CONFIGS:-50x16 50x1 1x1}; do
  set -- ${conf/x/ }
  n_saved="$N"
  [ "$1" = 1 ] && N=$((N / 8))   # one client is slow; keep the run bounded
  for round in $(seq "$ROUNDS"); do
    for name in agent ping lua same5 same3; do run_case "$name" "$1" "$2"; done
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
    name, c, p, cpu = r[0], r[1], r[2], float(r[3])
    rps, p99 = float(r[5]), float(r[10])
    rows.setdefault((c, p), {}).setdefault(name, []).append((rps, p99, cpu))
print(f"{'clients':>7} {'pipe':>4} {'case':>6} {'median rps':>12} {'median p99 ms':>14} {'client CPU us/req':>18}")
goals = []
for (c, p), cases in rows.items():
    med = {}
    for name in ("agent", "ping", "lua", "same5", "same3"):
        v = cases.get(name, [])
        med[name] = tuple(statistics.median(x[i] for x in v) for i in range(3))
        print(f"{c:>7} {p:>4} {name:>6} {med[name][0]:>12.0f} {med[name][1]:>14.3f} {med[name][2]:>18.3f}")
    vs_ping = med['agent'][0] / med['ping'][0]
    vs_lua = med['agent'][0] / med['lua'][0]
    p99 = med['agent'][1] / med['lua'][1]
    print(f"        ratios: agent/ping = {vs_ping:.2f}x   agent/lua = {vs_lua:.2f}x   p99 agent/lua = {p99:.2f}")
    print(f"        same-shape no-ops: agent/same5 = {med['agent'][0] / med['same5'][0]:.2f}x   "
          f"agent/same3 = {med['agent'][0] / med['same3'][0]:.2f}x   "
          f"same5/ping = {med['same5'][0] / med['ping'][0]:.2f}x   same3/ping = {med['same3'][0] / med['ping'][0]:.2f}x")
    goals.append((f"{c}x{p}: agent >= 0.9x PING", vs_ping >= 0.9, f"{vs_ping:.2f}x"))
    if p == "16":
        goals.append((f"{c}x{p}: agent >= 5x Lua", vs_lua >= 5, f"{vs_lua:.2f}x"))
    if p == "1":
        goals.append((f"{c}x{p}: agent p99 < Lua p99", p99 < 1, f"{med['agent'][1]:.3f} vs {med['lua'][1]:.3f} ms"))
print("goals:")
for what, ok, value in goals:
    print(f"  {'met    ' if ok else 'NOT met'}  {what:<28} ({value})")
PY
