#!/usr/bin/env bash
# Controller CPU per reported bucket of usage analytics.
#
# Starts a private PostgreSQL and a Release controller, creates RULES rules,
# then for each configuration AGENTSxENTRIES runs tests/bench/usage_load
# (a generator speaking the agent channel, common/wire.h): AGENTS simulated
# agents each send one UsageReport a second for SECONDS seconds, holding
# per rule a count row and two summaries (refused, allowed) of ENTRIES
# clients, so AGENTS * RULES * 2 * ENTRIES reported buckets a second (an
# agent sends each rule's summaries once a minute: this is 60 times one
# agent's rate, the rate of 60 * AGENTS agents). The generator waits for
# every UsageAck (sent once the report is committed), for up to 30 s after
# its last report: when acked < sent the controller did not keep up, and
# "stored buckets/s" is what it managed.
#
# CPU (user + system, from /proc/PID/stat and /proc/PID/task/TID/stat,
# 10 ms ticks) is read before the generator starts and after the last
# acknowledgement, and divided by the buckets reported: the controller as a
# whole, per thread name (sluice-usage is the writer, sluice-lease the
# agent channel), and PostgreSQL (the postmaster and all its children).
#
# Runs on demand, not in deploy/test.sh:
#   tests/bench/usage_ingest.sh [RULES] [SECONDS]        (default 10 20)
#   SLUICE_BENCH_CONFIGS="1x256 4x256 16x256"   AGENTSxENTRIES per run
#   SLUICE_BENCH_BUILD: a build directory (default build/release, brought up
#   to date first, usage_load with it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
RULES="${1:-10}"
SECONDS_PER_RUN="${2:-20}"
CONFIGS="${SLUICE_BENCH_CONFIGS:-1x256 4x256 16x256}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
cmake --build "$BUILD" -j"$(nproc)" --target usage_load >/dev/null
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

bench_controller usage-ingest
CONTROLLER_PID="${PIDS[0]}"
FIRST_RULE=""
for i in $(seq 1 "$RULES"); do
  id="$(curl -sf -H "Authorization: Bearer $TOKEN" \
    -d "{\"name\":\"ingest-$i\",\"domain\":\"d$i\",\"match\":{\"client\":\"*\"},\"limit\":10,\"period\":\"1s\"}" \
    "http://127.0.0.1:$HTTP_PORT/api/v1/rules" | sed 's/.*"id": *\([0-9]*\).*/\1/')"
  [ -n "$FIRST_RULE" ] || FIRST_RULE="$id"
done
[ "$((FIRST_RULE + RULES - 1))" = "$id" ] ||
  die "rule ids are not consecutive ($FIRST_RULE..$id): start from an empty database"

ticks() { sed 's/.*) //' "$1" | awk '{print $12 + $13}'; }
# "name ticks" for every thread of the controller.
thread_ticks() {
  local t
  for t in /proc/"$CONTROLLER_PID"/task/*; do
    echo "$(cat "$t/comm") $(ticks "$t/stat")"
  done | awk '{s[$1] += $2} END {for (n in s) print n, s[n]}' | sort
}
PG_MASTER="$(head -1 "$WORK/pg/postmaster.pid")"
# The postmaster and its children (backends, writers), exited ones not
# included: the controller's connections live for the whole run.
pg_ticks() {
  local sum=0 p
  for p in "$PG_MASTER" $(ps -o pid= --ppid "$PG_MASTER"); do
    [ -r "/proc/$p/stat" ] && sum=$((sum + $(ticks "/proc/$p/stat")))
  done
  echo "$sum"
}
TCK="$(getconf CLK_TCK)"

for config in $CONFIGS; do
  agents="${config%x*}"; entries="${config#*x}"
  rate=$((agents * RULES * 2 * entries))
  before_ctl="$(ticks "/proc/$CONTROLLER_PID/stat")"
  before_threads="$(thread_ticks)"
  before_pg="$(pg_ticks)"
  out="$("$BUILD/tests/bench/usage_load" "tcp://127.0.0.1:$ZMQ_PORT" \
    "$FIRST_RULE" "$RULES" "$agents" "$entries" "$SECONDS_PER_RUN")" ||
    { echo "$out"; die "usage_load failed"; }
  after_ctl="$(ticks "/proc/$CONTROLLER_PID/stat")"
  after_threads="$(thread_ticks)"
  after_pg="$(pg_ticks)"
  buckets="$(sed 's/.*buckets=\([0-9]*\).*/\1/' <<<"$out")"
  secs="$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$out")"
  echo "== $agents agents x $RULES rules x 2 x $entries clients = $rate buckets/s offered for ${SECONDS_PER_RUN}s: $out"
  awk -v b="$buckets" -v s="$secs" -v t="$TCK" -v c="$((after_ctl - before_ctl))" \
      -v p="$((after_pg - before_pg))" 'BEGIN {
    printf "   stored %.0f buckets/s; controller %.3f us CPU per bucket (%.2f cores), PostgreSQL %.3f us per bucket (%.2f cores)\n",
      b / s, c / t * 1e6 / b, c / t / s, p / t * 1e6 / b, p / t / s }'
  join <(echo "$before_threads") <(echo "$after_threads") |
    awk -v b="$buckets" -v t="$TCK" '$3 > $2 {
      printf "     thread %-16s %.3f us per bucket\n", $1, ($3 - $2) / t * 1e6 / b }'
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
