#!/usr/bin/env bash
# Resident memory per bucket of sluice-agent, and of sluice-controller per
# bucket it holds a budget for (sluice_controller_lease_buckets).
#
# Starts a private PostgreSQL, the controller and one agent (Release build),
# creates a rule with a wildcard match and a long period (so a bucket stays
# distinguishable from a fresh one, hence not evicted, during the
# measurement), reads the agent's VmRSS, creates BUCKETS distinct buckets
# (RL.CHECK api 1 client <i>, pipelined in batches of 10k by redis-py over
# the Unix socket), waits for lease traffic and sweeps to settle, reads
# VmRSS again and prints (after - before) / buckets held, next to RL.INFO's
# bucket_memory_bytes (what the bucket table itself accounts for).
#
# Then the same with a second agent started with --max-buckets CAP: it
# fills up to the cap (measured the same way), then the remaining checks,
# each on a new bucket, get the RESP error of --max-buckets, and the agent
# holds no more buckets than the cap.
#
# Runs on demand, not in deploy/test.sh:
#   tests/bench/agent_memory.sh [BUCKETS] [CAP]      (default 1000000 250000)
# SLUICE_BENCH_BUILD: a Release build directory (default build/release,
# brought up to date first).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
BUCKETS="${1:-1000000}"
CAP="${2:-250000}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
bench_python_redis

bench_controller mem

# 10 per hour, burst 10: one check leaves the bucket a token short of full
# for 6 minutes, far longer than the measurement.
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"mem","domain":"api","match":{"client":"*"},"limit":10,"period":"1h"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"

CONTROLLER_PID="${PIDS[0]}"
# The controller's count of buckets with a budget.
budgets() { bench_metric sluice_controller_lease_buckets; }
# checks SOCKET FIRST END OUT: RL.CHECK api 1 client <i> for i in
# [FIRST, END), pipelined in batches of 10k; writes "admitted refused
# errors" and the first error to OUT.
checks() {
  "$PY" - "$@" <<'PY'
import sys, redis
sock, first, end, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = redis.Redis(unix_socket_path=sock)
batch = 10000
ok = refused = errors = 0
first_error = ""
for start in range(first, end, batch):
    p = r.pipeline(transaction=False)
    for i in range(start, min(end, start + batch)):
        p.execute_command("RL.CHECK", "api", 1, "client", i)
    for reply in p.execute(raise_on_error=False):
        if isinstance(reply, Exception):
            errors += 1
            first_error = first_error or str(reply)
        elif reply[0] == 1:
            ok += 1
        else:
            refused += 1
with open(out, "w") as f:
    f.write(f"{ok} {refused} {errors}\n{first_error}\n")
PY
}

# settle SOCKET: lets the lease requests of new buckets drain and the sweeps
# visit the whole table (about once a second) before a measurement.
settle() {
  local i
  for i in $(seq 100); do
    [ "$(rl_info "$1" pending_lease_requests)" = 0 ] && break
    sleep 0.1
  done
  sleep 2
}

# measure NAME MAX_BUCKETS: one agent, BUCKETS checks on distinct buckets:
# first as many as the cap allows, then (capped) the rest, to be refused.
measure() {
  local name="$1" max="$2"
  local sock="$WORK/$name.sock"
  "$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
    --socket "$sock" --max-buckets "$max" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=($pid)
  wait_for agent 10 redis-cli -s "$sock" PING ||
    { cat "$WORK/$name.log"; exit 1; }
  wait_for rule 10 sh -c "redis-cli -s '$sock' RL.CHECK api 0 client x | sed -n 2p | grep -qx 10" ||
    { echo "the agent never got the rule" >&2; cat "$WORK/$name.log"; exit 1; }
  sleep 1  # let the lease channel and the first sweeps settle
  local fit=$((max < BUCKETS ? max : BUCKETS))
  local before; before="$(rss_kb "$pid")"
  local ctl_before; ctl_before="$(rss_kb "$CONTROLLER_PID")"
  local budgets_before; budgets_before="$(budgets)"
  checks "$sock" 0 "$fit" "$WORK/$name.fit"
  settle "$sock"
  local after; after="$(rss_kb "$pid")"
  local ctl_after; ctl_after="$(rss_kb "$CONTROLLER_PID")"
  local budgets_after; budgets_after="$(budgets)"
  local held; held="$(rl_info "$sock" buckets)"
  local table; table="$(rl_info "$sock" bucket_memory_bytes)"
  echo
  echo "== $name: --max-buckets $max, $fit checks on distinct buckets"
  echo "   admitted, refused, errors: $(sed -n 1p "$WORK/$name.fit")"
  echo "   buckets held (RL.INFO buckets): $held"
  echo "   VmRSS before: $before kB, after: $after kB"
  "$PY" - "$before" "$after" "$held" "$table" <<'PY'
import sys
before, after, held, table = (int(x) for x in sys.argv[1:])
delta = (after - before) * 1024
print(f"   resident bytes per bucket: {delta / max(held, 1):.1f}"
      f"   (delta {delta / 2**20:.1f} MiB / {held} buckets)")
print(f"   RL.INFO bucket_memory_bytes: {table}"
      f"   ({table / max(held, 1):.1f} per bucket)")
PY
  "$PY" - "$ctl_before" "$ctl_after" "$budgets_before" "$budgets_after" <<'PY'
import sys
before, after, b0, b1 = (int(x) for x in sys.argv[1:])
delta, budgets = (after - before) * 1024, b1 - b0
print(f"   controller: VmRSS {before} -> {after} kB, budgets {b0} -> {b1}")
print(f"   controller resident bytes per budget: {delta / max(budgets, 1):.1f}"
      f"   (delta {delta / 2**20:.1f} MiB / {budgets} budgets)")
PY
  if [ "$fit" -lt "$BUCKETS" ]; then
    checks "$sock" "$fit" "$BUCKETS" "$WORK/$name.over"
    settle "$sock"
    local over; over="$(rss_kb "$pid")"
    echo "   then $((BUCKETS - fit)) checks on new buckets beyond the cap:"
    echo "   admitted, refused, errors: $(sed -n 1p "$WORK/$name.over")"
    echo "   first error: $(sed -n 2p "$WORK/$name.over")"
    echo "   buckets held: $(rl_info "$sock" buckets), VmRSS: $over kB" \
      "($(( (over - after) / 1024 )) MiB more: reply buffers, no buckets)"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

measure uncapped "$BUCKETS"
measure capped "$CAP"
