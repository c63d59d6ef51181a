#!/usr/bin/env bash
# The client library's CPU per check next to a raw hiredis call, against a
# real agent leased by a real controller (tests/bench/client_overhead.cc
# says what is measured). Runs on demand, not in deploy/test.sh.
#
#   tests/bench/client_overhead.sh [ROUNDS] [CHECKS]
#   SLUICE_BENCH_BUILD=DIR   a Release build tree (default build/release)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
ROUNDS="${1:-7}"
N="${2:-100000}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
cmake --build "$BUILD" -j"$(nproc)" --target client_overhead >/dev/null
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

bench_controller client-bench
"$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
  --socket "$WORK/agent.sock" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
wait_for agent 10 redis-cli -s "$WORK/agent.sock" PING
# Plenty of tokens for every client: every check is admitted.
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"name":"bench","domain":"api","match":{"client":"*"},"limit":1000000,"period":"1s"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
wait_for rule 5 sh -c "redis-cli -s '$WORK/agent.sock' RL.CHECK api 0 client 1 | sed -n 2p | grep -qx 1000000"
sleep 2.5  # the controller's learning period: measure the steady state
"$BUILD/tests/bench/client_overhead" "$WORK/agent.sock" "$ROUNDS" "$N"
