# Shared set-up for the benchmarks: sourced after deploy/lib.sh.
#
#   bench_daemons BUILD    builds sluice-agent, sluice-controller,
#                          tests/bench/syscall_cost and ping_floor (Release)
#                          in BUILD (incremental: a stale tree is brought up
#                          to date, so the numbers are the checkout's)
#   bench_controller NAME  makes $WORK (/tmp/sluice-NAME.XXXXXX), starts a
#                          private PostgreSQL and a controller on free ports,
#                          and stops everything in $PIDS (and PostgreSQL) on
#                          exit. Sets WORK, PIDS, DB, TOKEN, HTTP_PORT,
#                          ZMQ_PORT.
#   bench_python_redis     sets PY to a python3 that can import redis
#   bench_metric NAME      the controller's metric NAME (an integer)
#   rss_kb PID             a process's resident memory (VmRSS), in kB
#   rl_info SOCKET FIELD   one field of an agent's RL.INFO

bench_daemons() {
  local build="$1"
  log "building the daemons (Release) in $build"
  # Configured every time: a tree made before a tool was added knows no
  # target for it until then.
  cmake -S "$SLUICE_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target sluice-agent sluice-controller \
    syscall_cost ping_floor >/dev/null
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg_stop "$WORK/pg"
  rm -rf "$WORK"
}

bench_controller() {
  WORK="$(mktemp -d "/tmp/sluice-$1.XXXXXX")"; chmod 755 "$WORK"
  PIDS=()
  trap bench_cleanup EXIT
  local pg_port; pg_port="$(free_port)"
  HTTP_PORT="$(free_port)"; ZMQ_PORT="$(free_port)"; METRICS_PORT="$(free_port)"
  pg_start "$WORK/pg" "$pg_port" "$WORK/pgsock" fast
  DB="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
  TOKEN=bench-token
  SLUICE_ADMIN_TOKEN=$TOKEN "$BUILD/controller/sluice-controller" --db "$DB" \
    --http "127.0.0.1:$HTTP_PORT" --agents "tcp://127.0.0.1:$ZMQ_PORT" \
    --metrics "127.0.0.1:$METRICS_PORT" >"$WORK/controller.log" 2>&1 &
  PIDS+=($!)
  wait_for controller 30 curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" ||
    { cat "$WORK/controller.log"; exit 1; }
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

rl_info() {
  redis-cli -s "$1" RL.INFO | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'
}

bench_python_redis() {
  PY=/usr/bin/python3  # Debian's python3-redis is installed for this one
  "$PY" -c 'import redis' 2>/dev/null ||
    die "$PY cannot import redis: install the Debian package python3-redis"
}

bench_metric() {
  curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v m="$1" '$1 == m {printf "%d", $2}'
}
