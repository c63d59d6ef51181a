#!/usr/bin/env bash
# Resident memory of sluice-controller per budget, with one agent and with
# two agents using each bucket: what a further agent of a bucket costs.
#
# Starts a private PostgreSQL, the controller and two agents (Release
# build), creates a rule with a wildcard match and a long period (10 an
# hour, burst 10), then:
#   1. one agent: RL.CHECK api 3 client <i> for BUCKETS distinct buckets
#      (cost 3: more than half of the agent's safe share, so every bucket
#      asks for a lease at once instead of being decided locally);
#   2. both agents at once: the same checks on BUCKETS other buckets, so
#      each budget holds the two agents.
# After each, it waits for the lease requests to drain and reads the
# controller's VmRSS, its budget count (sluice_controller_lease_buckets) and
# the agent entries of all budgets (sluice_controller_lease_bucket_agents),
# and prints the resident bytes per budget; the difference between the two
# phases is the cost of the second agent of a bucket.
#
# Runs on demand, not in deploy/test.sh:
#   tests/bench/controller_memory.sh [BUCKETS]      (default 200000)
# SLUICE_BENCH_BUILD: a Release build directory (default build/release,
# brought up to date first; SLUICE_BENCH_NO_BUILD=1 uses it as it is).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
BUCKETS="${1:-200000}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
[ "${SLUICE_BENCH_NO_BUILD:-0}" = 1 ] || bench_daemons "$BUILD"
bench_python_redis

bench_controller ctlmem
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"mem","domain":"api","match":{"client":"*"},"limit":10,"period":"1h"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"

CONTROLLER_PID="${PIDS[0]}"
start_agent() {  # start_agent NAME
  local sock="$WORK/$1.sock"
  "$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
    --socket "$sock" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  wait_for agent 10 redis-cli -s "$sock" PING || { cat "$WORK/$1.log"; exit 1; }
  wait_for rule 10 sh -c "redis-cli -s '$sock' RL.CHECK api 0 client x | sed -n 2p | grep -qx 10" ||
    { echo "the agent never got the rule" >&2; cat "$WORK/$1.log"; exit 1; }
}

# checks SOCKET FIRST END: RL.CHECK api 3 client <i> for i in [FIRST, END),
# pipelined in batches of 10k.
checks() {
  "$PY" - "$@" <<'PY'
import sys, redis
sock, first, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = redis.Redis(unix_socket_path=sock)
for start in range(first, end, 10000):
    p = r.pipeline(transaction=False)
    for i in range(start, min(end, start + 10000)):
        p.execute_command("RL.CHECK", "api", 3, "client", i)
    p.execute(raise_on_error=False)
PY
}

settle() {  # settle SOCKET...: the lease requests drained, then 1 s
  local sock i
  for sock in "$@"; do
    for i in $(seq 100); do
      [ "$(rl_info "$sock" pending_lease_requests)" = 0 ] && break
      sleep 0.1
    done
  done
  sleep 1
}

start_agent one
start_agent two
sleep 2  # both known to the controller: each bucket's safe share is half

report() {  # report NAME RSS_BEFORE BUDGETS_BEFORE ENTRIES_BEFORE
  local rss budgets entries
  rss="$(rss_kb "$CONTROLLER_PID")"
  budgets="$(bench_metric sluice_controller_lease_buckets)"
  entries="$(bench_metric sluice_controller_lease_bucket_agents)"
  "$PY" - "$1" "$2" "$rss" "$3" "$budgets" "$4" "$entries" <<'PY'
import sys
name = sys.argv[1]
rss0, rss1, b0, b1, e0, e1 = (int(x) for x in sys.argv[2:])
delta, budgets, entries = (rss1 - rss0) * 1024, b1 - b0, e1 - e0
per = delta / max(budgets, 1)
print(f"== {name}: controller VmRSS {rss0} -> {rss1} kB, budgets +{budgets}, "
      f"agent entries +{entries} ({entries / max(budgets, 1):.2f} per budget, "
      f"as of the controller's last sweep pass: a lower bound)")
print(f"   resident bytes per budget: {per:.1f}")
print(f"PER_BUDGET {name} {per:.1f}")
PY
}

rss0="$(rss_kb "$CONTROLLER_PID")"
b0="$(bench_metric sluice_controller_lease_buckets)"
e0="$(bench_metric sluice_controller_lease_bucket_agents)"
checks "$WORK/one.sock" 0 "$BUCKETS"
settle "$WORK/one.sock"
report "one agent per bucket" "$rss0" "$b0" "$e0" | tee "$WORK/one.out"

rss0="$(rss_kb "$CONTROLLER_PID")"
b0="$(bench_metric sluice_controller_lease_buckets)"
e0="$(bench_metric sluice_controller_lease_bucket_agents)"
checks "$WORK/one.sock" "$BUCKETS" $((2 * BUCKETS)) &
first=$!
checks "$WORK/two.sock" "$BUCKETS" $((2 * BUCKETS))
wait "$first"
settle "$WORK/one.sock" "$WORK/two.sock"
report "two agents per bucket" "$rss0" "$b0" "$e0" | tee "$WORK/two.out"

"$PY" - "$WORK/one.out" "$WORK/two.out" <<'PY'
import sys
one = float(open(sys.argv[1]).read().split("PER_BUDGET")[1].split()[-1])
two = float(open(sys.argv[2]).read().split("PER_BUDGET")[1].split()[-1])
print(f"== the second agent of a bucket: {two - one:.1f} resident bytes")
PY
