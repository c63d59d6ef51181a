#!/usr/bin/env bash
# Side-by-side throughput and latency of:
#   agent  RL.CHECK over 100k random per-client buckets (sluice-agent)
#   known  RL.CHECK over 1,000 per-client buckets, which the agent holds
#          after the first round (buckets known, no new bucket per check)
#   ping   Redis PING (the cost of a no-op on the same socket type)
#   floor  PING answered by tests/bench/ping_floor: epoll_wait, recv and
#          send and nothing else, the least any server spends per request
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
# Prints medians, the ratios and the speed goals (docs/performance.md).
# Runs on demand, not in deploy/test.sh. The controller (and PostgreSQL)
# run too, on the same cores: lease traffic is part of the honest cost.
#
# Server CPU per request: the CPU time of every thread of the servers, from
# the scheduler's account to the nanosecond (/proc/PID/task/TID/schedstat),
# read before and after each run and divided by its requests, split into
# the agent's main thread (its event loop), the agent's other threads
# (lease client, ...), the controller (all threads) and redis-server (all
# threads). An agent case's server CPU is agent + controller; a Redis
# case's is redis-server.
# Background over the whole run: the agent's threads but its event loop and
# the controller, from before the first case until 6 s after the last,
# divided by the agent's checks. A bucket decided locally reports up to 5 s
# after its checks, during a later case: per case, its report would count
# against whatever ran then. (The leasing goal, <= 0.3 us per check,
# is for SLUICE_BENCH_CONFIGS=50x16 SLUICE_BENCH_CASES=agent: 100k buckets.)
# Each agent's event loop over the whole run, user and system apart, per
# request it served: with SLUICE_BENCH_AGENT_B, the A/B comparison least
# moved by the host's drift (both agents' cases alternate throughout).
#
#   tests/bench/agent_vs_redis.sh [ROUNDS] [REQUESTS]
#   SLUICE_BENCH_BUILD=DIR   a Release build tree (default build/release,
#                            brought up to date first)
#   SLUICE_BENCH_NO_BUILD=1  use the daemons in DIR as they are (e.g. copies
#                            of another checkout's agent/sluice-agent and
#                            controller/sluice-controller, for A/B runs)
#   SLUICE_BENCH_CONFIGS="50x16 50x1 1x1"   the configurations to run
#   SLUICE_BENCH_CASES="agent known ping floor lua same5 same3"   the cases to run
#   SLUICE_BENCH_PIN=1       servers on the last core, redis-benchmark on
#                            the first (steadier; see below)
#   SLUICE_BENCH_AGENT_B=FILE  a second sluice-agent (another checkout's, for
#                            an A/B comparison in one run): it runs next to
#                            the first, on its own socket and its own rule
#                            (domain apib, the same limit), as the cases
#                            agentB and knownB (add them to the cases)
#
# Each case's server CPU is also divided by PING's of the same round (run
# next to it, seconds apart): the median of those paired ratios is steadier
# than the ratio of the medians when the machine's speed drifts.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
ROUNDS="${1:-5}"
N="${2:-400000}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
[ -n "${SLUICE_BENCH_NO_BUILD:-}" ] || bench_daemons "$BUILD"
for tool in redis-server redis-benchmark redis-cli curl; do
  command -v "$tool" >/dev/null || die "$tool not found: install redis-server, redis-tools and curl"
done
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
# A request costs a server at least a read, a write and a share of a wait:
# where a system call is dear (some hypervisors), that floor is most of it.
if [ -x "$BUILD/tests/bench/syscall_cost" ]; then
  log "one system call (getppid) costs $("$BUILD/tests/bench/syscall_cost") ns on this host"
fi

# Pinning (SLUICE_BENCH_PIN=1): every server answering the benchmark
# (agents, redis-server, ping_floor) on the last core, redis-benchmark on
# the first. Unpinned, the scheduler sometimes puts client and server on
# one core and sometimes not, which moves a server's cost per request by
# a third from run to run; pinned, both kinds of server meet the same
# placement. The controller and PostgreSQL stay unpinned.
SERVER_PIN=()
CLIENT_PIN=()
if [ "${SLUICE_BENCH_PIN:-0}" = 1 ]; then
  [ "$(nproc)" -ge 2 ] || die "SLUICE_BENCH_PIN=1 needs two cores or more"
  SERVER_PIN=(taskset -c "$(($(nproc) - 1))")
  CLIENT_PIN=(taskset -c 0)
  log "pinned: servers on core $(($(nproc) - 1)), redis-benchmark on core 0"
fi

bench_controller bench
METRICS_PORT="$(free_port)"
"${SERVER_PIN[@]}" "$BUILD/agent/sluice-agent" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
  --socket "$WORK/agent.sock" --metrics "127.0.0.1:$METRICS_PORT" \
  >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=($!)
"${SERVER_PIN[@]}" redis-server --port 0 --unixsocket "$WORK/redis.sock" --save '' \
  --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($!)
CONTROLLER_PID="${PIDS[0]}"  # bench_controller started it first
FLOOR_PID=0
if [ -x "$BUILD/tests/bench/ping_floor" ]; then
  "${SERVER_PIN[@]}" "$BUILD/tests/bench/ping_floor" "$WORK/floor.sock" &
  FLOOR_PID=$!
  PIDS+=($!)
  wait_for floor 10 redis-cli -s "$WORK/floor.sock" PING
fi
AGENT_B_PID=""
if [ -n "${SLUICE_BENCH_AGENT_B:-}" ]; then
  "${SERVER_PIN[@]}" "$SLUICE_BENCH_AGENT_B" --controller "tcp://127.0.0.1:$ZMQ_PORT" \
    --socket "$WORK/agentb.sock" >"$WORK/agentb.log" 2>&1 &
  AGENT_B_PID=$!
  PIDS+=($!)
  wait_for agentB 10 redis-cli -s "$WORK/agentb.sock" PING
fi
wait_for agent 10 redis-cli -s "$WORK/agent.sock" PING
wait_for redis 10 redis-cli -s "$WORK/redis.sock" PING

# Per client: 1000/s, burst 1000, so most checks are admitted, as in the Lua case.
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"name":"bench","domain":"api","match":{"client":"*"},"limit":1000,"period":"1s"}' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
wait_for rule 5 sh -c "redis-cli -s '$WORK/agent.sock' RL.CHECK api 0 client 1 | sed -n 2p | grep -qx 1000"
if [ -n "$AGENT_B_PID" ]; then
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"name":"benchb","domain":"apib","match":{"client":"*"},"limit":1000,"period":"1s"}' \
    "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
  wait_for ruleB 5 sh -c "redis-cli -s '$WORK/agentb.sock' RL.CHECK apib 0 client 1 | sed -n 2p | grep -qx 1000"
fi
# While the controller learns (its first lease TTL, 2 s by default) its
# budgets start empty and grant only fair shares of the refill: measure
# the steady state.
sleep 2.5
SHA="$(redis-cli -s "$WORK/redis.sock" SCRIPT LOAD "$(cat "$ROOT/tests/bench/token_bucket.lua")")"

RESULTS="$WORK/results.csv"
TICK="$(getconf CLK_TCK)"
# CPU time so far, in nanoseconds (the scheduler's own account, in
# /proc/PID/task/TID/schedstat: exact, where clock ticks of 10 ms would
# make a run of a second or two imprecise by several percent): the agent's
# main thread, the agent (all threads), the controller, redis-server, then
# agent B's main thread and all its threads (0 0 without it), then
# ping_floor (0 without it). (Threads that ended are not counted: none of
# these servers ends one while it runs.)
thread_ns() { cut -d' ' -f1 "/proc/$1/task/$2/schedstat"; }
process_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
cpu_snapshot() {
  echo "$(thread_ns "$AGENT_PID" "$AGENT_PID") $(process_ns "$AGENT_PID")" \
    "$(process_ns "$CONTROLLER_PID") $(process_ns "$REDIS_PID")" \
    "$(if [ -n "$AGENT_B_PID" ]; then echo "$(thread_ns "$AGENT_B_PID" "$AGENT_B_PID") $(process_ns "$AGENT_B_PID")"; else echo 0 0; fi)" \
    "$(if [ "$FLOOR_PID" != 0 ]; then process_ns "$FLOOR_PID"; else echo 0; fi)"
}
# User and system ticks of a thread or process: after the ")" that ends
# the command name, utime and stime are the 12th and 13th fields.
user_sys() { sed 's/.*) //' "$1" | awk '{printf "%d %d", $12, $13}'; }
bench() {  # socket args...: one redis-benchmark run, its CSV line in $WORK/line
  local sock="$1"; shift
  "${CLIENT_PIN[@]}" redis-benchmark -s "$WORK/$sock" -c "$c" -P "$p" -n "$N" --csv "$@" | tail -1 >"$WORK/line"
}
drive() {  # name: one redis-benchmark run of that case ($c, $p, $N)
  case "$1" in
    agent) bench agent.sock -r 100000 RL.CHECK api 1 client __rand_int__ ;;
    known) bench agent.sock -r 1000 RL.CHECK api 1 client __rand_int__ ;;
    agentB) bench agentb.sock -r 100000 RL.CHECK apib 1 client __rand_int__ ;;
    knownB) bench agentb.sock -r 1000 RL.CHECK apib 1 client __rand_int__ ;;
    ping)  bench redis.sock PING ;;
    floor) bench floor.sock PING ;;
    lua)   bench redis.sock -r 100000 EVALSHA "$SHA" 1 tb:__rand_int__ 1000 1000 1 ;;
    same5) bench redis.sock -r 100000 SMISMEMBER s:__rand_int__ a b c d e ;;
    same3) bench redis.sock -r 100000 SMISMEMBER s:__rand_int__ a b c ;;
  esac
}
# One unmeasured pass of a case (a quarter of the requests), before its
# configuration's first round: the known buckets exist then, as the case's
# name says, the servers' tables and buffers have grown, and the first
# measured round is like the others.
warm_case() {  # name clients pipeline
  local name="$1" c="$2" p="$3" N=$((N / 4))
  if [ "$name" = floor ] && [ "$FLOOR_PID" = 0 ]; then return; fi  # not built
  drive "$name"
  case "$name" in
    agent|known) SERVED_A=$((SERVED_A + N)) ;;
    agentB|knownB) SERVED_B=$((SERVED_B + N)) ;;
  esac
}
run_case() {  # name clients pipeline round
  local name="$1" c="$2" p="$3" round="$4" cpu before after
  local TIMEFORMAT='%U %S'  # the client's own CPU time (user, system)
  if [ "$name" = floor ] && [ "$FLOOR_PID" = 0 ]; then return; fi  # not built
  before="$(cpu_snapshot)"
  cpu="$( { time drive "$name"; } 2>&1 )"
  after="$(cpu_snapshot)"
  # name,clients,pipeline,round,client CPU us per request,
  # server CPU us per request: agent main,agent other threads,controller,redis,
  # <redis-benchmark CSV>
  # (agentB and knownB: agent B's main thread and other threads; floor:
  # ping_floor in the redis column.)
  local ab=0 fl=0
  case "$name" in agentB|knownB) ab=1 ;; floor) fl=1 ;; esac
  echo "$name,$c,$p,$round,$(tail -1 <<<"$cpu" | awk -v n="$N" '{printf "%.3f", ($1 + $2) * 1e6 / n}'),$(
    awk -v n="$N" -v b="$before" -v a="$after" -v ab="$ab" -v fl="$fl" 'BEGIN {
      split(b, x, " "); split(a, y, " "); k = 1e-3 / n
      if (ab) { x[1] = x[5]; x[2] = x[6]; y[1] = y[5]; y[2] = y[6] }
      if (fl) { x[4] = x[7]; y[4] = y[7] }
      printf "%.3f,%.3f,%.3f,%.3f", (y[1] - x[1]) * k, (y[2] - x[2] - y[1] + x[1]) * k,
        (y[3] - x[3]) * k, (y[4] - x[4]) * k}'),$(cat "$WORK/line")" >>"$RESULTS"
}

# The event loops' user and system ticks (agent, then agent B: 0 0
# without it), over the whole run: the steadiest A/B comparison on a noisy
# host, as both see the same drift; printed per request each served.
loop_ticks() {
  echo "$(user_sys "/proc/$AGENT_PID/task/$AGENT_PID/stat")" \
    "$(if [ -n "$AGENT_B_PID" ]; then user_sys "/proc/$AGENT_B_PID/task/$AGENT_B_PID/stat"; else echo 0 0; fi)"
}
SERVED_A=0
SERVED_B=0

# The whole run's background too: reports of buckets decided locally leave
# up to 5 s after their checks, in a later case's run (see below).
RUN_START="$(cpu_snapshot)"
LOOP_START="$(loop_ticks)"
for conf in ${SLUICE_BENCH_CONFIGS:-50x16 50x1 1x1}; do
  set -- ${conf/x/ }
  n_saved="$N"
  [ "$1" = 1 ] && N=$((N / 8))   # one client is slow; keep the run bounded
  for name in ${SLUICE_BENCH_CASES:-agent known ping floor lua same5 same3}; do
    warm_case "$name" "$1" "$2"
  done
  for round in $(seq "$ROUNDS"); do
    for name in ${SLUICE_BENCH_CASES:-agent known ping floor lua same5 same3}; do
      run_case "$name" "$1" "$2" "$round"
      case "$name" in
        agent|known) SERVED_A=$((SERVED_A + N)) ;;
        agentB|knownB) SERVED_B=$((SERVED_B + N)) ;;
      esac
    done
  done
  N="$n_saved"
done

LOOP_END="$(loop_ticks)"
sleep 6  # the last reports (LeaseTiming::quiet_report_ns) go out
RUN_END="$(cpu_snapshot)"
awk -v b="$LOOP_START" -v a="$LOOP_END" -v na="$SERVED_A" -v nb="$SERVED_B" -v tick="$TICK" 'BEGIN {
  split(b, x, " "); split(a, y, " ")
  if (na > 0) printf "==> agent event loop over the whole run, per request it served: user %.3f us, system %.3f us\n",
    (y[1] - x[1]) * 1e6 / tick / na, (y[2] - x[2]) * 1e6 / tick / na
  if (nb > 0) printf "==> agent B event loop over the whole run, per request it served: user %.3f us, system %.3f us\n",
    (y[3] - x[3]) * 1e6 / tick / nb, (y[4] - x[4]) * 1e6 / tick / nb}' >&2
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
log "agent: $(redis-cli -s "$WORK/agent.sock" RL.INFO | tr -d '\r' | grep -E '^(buckets|leases):' | tr '\n' ' ')"
# How the checks were decided (most should be admitted, as in the Lua case)
# and how many bucket lease requests they cost.
sleep 0.2  # the agent publishes its counters every 100 ms
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '
  /^sluice_agent_decisions_total/ && /result="allowed"/ {a += $2}
  /^sluice_agent_decisions_total/ && /result="refused"/ {r += $2}
  /^sluice_agent_lease_requests_total / {l = $2}
  /^sluice_agent_lease_reports_total / {q = $2}
  END {if (a + r > 0) printf "%d %.1f %.3f %.3f\n", a + r, 100 * r / (a + r), l / (a + r), q / (a + r)}' >"$WORK/checks"
read -r CHECKS REFUSED_PCT REQ_PER REP_PER <"$WORK/checks"
log "agent checks: $CHECKS, refused $REFUSED_PCT%, per check: bucket lease requests $REQ_PER, reports $REP_PER"
# Background over the whole run, per agent check: the agent's threads but
# its event loop, and the controller, from before the first case to 6 s
# after the last (so reports sent after their case ended count, and so
# does the idle cost of the Redis cases' runs).
awk -v b="$RUN_START" -v a="$RUN_END" -v n="$CHECKS" 'BEGIN {
  split(b, x, " "); split(a, y, " ")
  bg = (y[2] - x[2] - y[1] + x[1]) * 1e-3 / n; ctl = (y[3] - x[3]) * 1e-3 / n
  printf "==> background over the whole run: %.3f us per agent check (agent threads but the event loop %.3f, controller %.3f): %s\n",
    bg + ctl, bg, ctl, (bg + ctl <= 0.3 ? "goal (<= 0.3) met" : "goal (<= 0.3) NOT met")}' >&2

/usr/bin/python3 - "$RESULTS" <<'PY'
import csv, statistics, sys
CASES = ("agent", "known", "agentB", "knownB", "ping", "floor", "lua", "same5", "same3")
AGENT_CASES = ("agent", "known", "agentB", "knownB")
rows = {}
by_round = {}  # (c, p, round) -> {name: server CPU}
for r in csv.reader(open(sys.argv[1])):
    name, c, p, rnd = r[0], r[1], r[2], r[3]
    cpu, main, bg, ctl, redis = (float(x) for x in r[4:9])
    rps, p99 = float(r[10]), float(r[15])
    server = main + bg + ctl if name in AGENT_CASES else redis
    rows.setdefault((c, p), {}).setdefault(name, []).append(
        (rps, p99, cpu, server, main, bg, ctl, redis))
    by_round.setdefault((c, p, rnd), {})[name] = server


def paired(c, p, name):
    """Median over the rounds of name's server CPU / PING's, and the list."""
    ratios = [v[name] / v["ping"] for (rc, rp, _), v in by_round.items()
              if rc == c and rp == p and name in v and v.get("ping", 0) > 0]
    return (statistics.median(ratios) if ratios else None), ratios
print(f"{'clients':>7} {'pipe':>4} {'case':>6} {'median rps':>11} {'p99 ms':>7} "
      f"{'client':>7} | server CPU us/req: {'total':>6} {'main':>6} {'bg':>6} {'ctl':>6} {'redis':>6}")
goals = []
for (c, p), cases in rows.items():
    med = {}
    for name in CASES:
        v = cases.get(name)
        if not v:
            continue
        med[name] = tuple(statistics.median(x[i] for x in v) for i in range(8))
        m = med[name]
        print(f"{c:>7} {p:>4} {name:>6} {m[0]:>11.0f} {m[1]:>7.3f} {m[2]:>7.3f} |"
              f" {'':>17} {m[3]:>6.2f} {m[4]:>6.2f} {m[5]:>6.2f} {m[6]:>6.2f} {m[7]:>6.2f}")
    if "ping" in med:
        for name in AGENT_CASES + ("floor",):
            m, ratios = paired(c, p, name)
            if m is not None:
                print(f"        paired server CPU {name}/ping: median {m:.3f}x  "
                      f"({' '.join(f'{x:.2f}' for x in ratios)})")
    if "agent" not in med or "ping" not in med:
        continue
    a, ping = med["agent"], med["ping"]
    vs_ping = a[0] / ping[0]
    cpu_ratio = a[3] / ping[3] if ping[3] > 0 else float("inf")
    line = f"        ratios: agent/ping = {vs_ping:.2f}x   server CPU agent/ping = {cpu_ratio:.2f}x"
    if "lua" in med:
        line += f"   agent/lua = {a[0] / med['lua'][0]:.2f}x   p99 agent/lua = {a[1] / med['lua'][1]:.2f}"
    print(line)
    if "same5" in med and "same3" in med:
        print(f"        same-shape no-ops: agent/same5 = {a[0] / med['same5'][0]:.2f}x   "
              f"agent/same3 = {a[0] / med['same3'][0]:.2f}x   "
              f"same5/ping = {med['same5'][0] / ping[0]:.2f}x   same3/ping = {med['same3'][0] / ping[0]:.2f}x")
    goals.append((f"{c}x{p}: agent >= 0.9x PING", vs_ping >= 0.9, f"{vs_ping:.2f}x"))
    cpu_goal = 1.1 if p != "1" else 1.0
    goals.append((f"{c}x{p}: server CPU <= {cpu_goal}x PING", cpu_ratio <= cpu_goal,
                  f"{a[3]:.2f} vs {ping[3]:.2f} us"))
    if "known" in med:
        k = med["known"]
        known_ratio = k[3] / ping[3] if ping[3] > 0 else float("inf")
        print(f"        known buckets: known/ping = {k[0] / ping[0]:.2f}x   "
              f"server CPU known/ping = {known_ratio:.2f}x")
        goals.append((f"{c}x{p}: known server CPU <= {cpu_goal}x PING",
                      known_ratio <= cpu_goal, f"{k[3]:.2f} vs {ping[3]:.2f} us"))
    if "lua" in med and p == "16":
        vs_lua = a[0] / med["lua"][0]
        goals.append((f"{c}x{p}: agent >= 5x Lua", vs_lua >= 5, f"{vs_lua:.2f}x"))
    if "lua" in med and p == "1":
        goals.append((f"{c}x{p}: agent p99 < Lua p99", a[1] < med["lua"][1],
                      f"{a[1]:.3f} vs {med['lua'][1]:.3f} ms"))
print("goals:")
for what, ok, value in goals:
    print(f"  {'met    ' if ok else 'NOT met'}  {what:<32} ({value})")
PY
