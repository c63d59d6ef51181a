#!/usr/bin/env bash
# What the daemons cost at rest: the CPU time and the wake-ups of every
# thread of sluice-controller and of one sluice-agent, neither of them
# serving anything, over SECONDS.
#
# Starts a private PostgreSQL, the controller and one agent (Release
# build), creates a rule and makes one check (so the agent holds its rules
# and a bucket, as in service), waits for the start-up to settle, then reads
# /proc/PID/task/TID/schedstat (CPU time, to the nanosecond) and
# voluntary_ctxt_switches (one per sleep, so per wake-up) of each thread
# before and after. Prints per thread: its name, milliseconds of CPU per
# second and wake-ups per second; then each daemon's total.
#
# Runs on demand, not in deploy/test.sh:
#   tests/bench/idle_cost.sh [SECONDS]       (default 20)
# SLUICE_BENCH_BUILD: a Release build directory (default build/release,
# brought up to date first); SLUICE_BENCH_NO_BUILD=1 uses it as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
SECONDS_IDLE="${1:-20}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
[ -n "${SLUICE_BENCH_NO_BUILD:-}" ] || bench_daemons "$BUILD"

bench_controller idle
CONTROLLER_PID="${PIDS[0]}"  # bench_controller started it first
"$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
  --socket "$WORK/agent.sock" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=($!)
wait_for agent 10 redis-cli -s "$WORK/agent.sock" PING
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"idle","domain":"api","match":{"client":"*"},"limit":100,"period":"1s"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
wait_for rule 5 sh -c "redis-cli -s '$WORK/agent.sock' RL.CHECK api 1 client 1 | sed -n 1p | grep -qx 1"
sleep 8  # the bucket's report, the first heartbeats and lease sweeps

# One line per thread: daemon tid name cpu_ns wake-ups
snapshot() {
  local daemon pid task
  for daemon in controller agent; do
    if [ "$daemon" = controller ]; then pid="$CONTROLLER_PID"; else pid="$AGENT_PID"; fi
    for task in /proc/"$pid"/task/*; do
      echo "$daemon ${task##*/} $(tr ' ' _ <"$task/comm") $(cut -d' ' -f1 "$task/schedstat")" \
        "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status")"
    done
  done
}
snapshot | sort -k2,2 >"$WORK/before"
log "idle for ${SECONDS_IDLE} s"
sleep "$SECONDS_IDLE"
snapshot | sort -k2,2 >"$WORK/after"
printf '%-10s %-8s %-16s %10s %12s\n' daemon tid thread 'CPU ms/s' 'wake-ups/s'
join -j 2 -o 1.1,1.2,1.3,1.4,1.5,2.4,2.5 "$WORK/before" "$WORK/after" |
  awk -v s="$SECONDS_IDLE" '{
    ms = ($6 - $4) / 1e6 / s; w = ($7 - $5) / s
    cpu[$1] += ms; wake[$1] += w
    printf "%-10s %-8s %-16s %10.3f %12.1f\n", $1, $2, $3, ms, w
  } END {
    for (d in cpu) printf "%-10s %-8s %-16s %10.3f %12.1f\n", d, "all", "(total)", cpu[d], wake[d]
  }' | sort -k1,1 -k4,4nr
