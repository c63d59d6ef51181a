#!/usr/bin/env bash
# Runs the whole Sluice stack on this machine, in the foreground:
# installs missing Debian packages, builds (Release), starts a private
# PostgreSQL (or uses $SLUICE_DB), a controller and one agent, creates a
# demo rule and prints how to use it. Ctrl-C stops everything it started. A
# second run reuses the same state (rules, token, database).
#
#   deploy/quickstart.sh           run until Ctrl-C
#   deploy/quickstart.sh --check   start, check the demo rule with one
#                                  decision, stop (exit 0 when it works)
#
# Works from a checkout in any directory, as root or as a user with sudo.
# State: ./var/ (token, logs, the agent's socket) and PostgreSQL's data
# directory. PostgreSQL runs as the user 'postgres' when the quickstart runs
# as root, and that user may not be able to reach ./var/ (a checkout in
# /root or another 0700 folder): root keeps the data directory in
# /var/lib/sluice-quickstart/<hash of the checkout's path>/pg, one per
# checkout. Other users run PostgreSQL as themselves, in ./var/pg.
# `deploy/quickstart.sh --where` prints both places.
#
# Environment overrides: SLUICE_DB (use this database instead of a private
# one), SLUICE_HTTP (default 127.0.0.1:8080), SLUICE_AGENTS (default
# tcp://127.0.0.1:7070), SLUICE_CONTROLLER_METRICS (127.0.0.1:9101),
# SLUICE_AGENT_METRICS (127.0.0.1:9102), SLUICE_PG_PORT (default 54329),
# SLUICE_VAR (./var), SLUICE_PG_STATE (the directory holding pg/),
# SLUICE_PREBUILT (a build tree whose controller/sluice-controller and
# agent/sluice-agent to run instead of building).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODE=run
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --where) MODE=where ;;
  *) die "unknown argument '$1'; use no argument, --check or --where" ;;
esac

VAR="${SLUICE_VAR:-$SLUICE_ROOT/var}"
BUILD_DIR="${SLUICE_PREBUILT:-$SLUICE_ROOT/build/release}"
HTTP="${SLUICE_HTTP:-127.0.0.1:8080}"
AGENTS="${SLUICE_AGENTS:-tcp://127.0.0.1:7070}"
METRICS_CTL="${SLUICE_CONTROLLER_METRICS:-127.0.0.1:9101}"
METRICS_AGENT="${SLUICE_AGENT_METRICS:-127.0.0.1:9102}"
PG_PORT="${SLUICE_PG_PORT:-54329}"
SOCKET="$VAR/agent.sock"
PIDS=()
PG_STARTED=""

# Where PostgreSQL's data directory lives (see the top of this file).
pg_state_dir() {
  if [ -n "${SLUICE_PG_STATE:-}" ]; then
    echo "$SLUICE_PG_STATE"
  elif [ "$(id -u)" -ne 0 ]; then
    echo "$VAR"
  elif [ -f "$VAR/pg/PG_VERSION" ] && runuser -u postgres -- test -w "$VAR/pg" 2>/dev/null; then
    echo "$VAR"  # a cluster an earlier run made in ./var/, reachable
  else
    echo "/var/lib/sluice-quickstart/$(printf '%s' "$SLUICE_ROOT" | sha256sum | cut -c1-16)"
  fi
}
PG_STATE="$(pg_state_dir)"
PG_DATA="$PG_STATE/pg"

if [ "$MODE" = where ]; then
  echo "checkout: $SLUICE_ROOT"
  echo "state: $VAR"
  echo "postgresql data: $PG_DATA"
  exit 0
fi

stop_all() {
  trap - INT TERM EXIT
  # Whatever our output is piped into may be gone already (Ctrl-C reaches
  # the whole pipeline): never let a write kill the cleanup.
  trap '' PIPE
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$PG_STARTED" ] && pg_stop "$PG_DATA"
  log "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

install_deps
if [ -n "${SLUICE_PREBUILT:-}" ]; then
  for binary in controller/sluice-controller agent/sluice-agent; do
    [ -x "$BUILD_DIR/$binary" ] || die "SLUICE_PREBUILT=$BUILD_DIR has no $binary; build it or unset SLUICE_PREBUILT"
  done
  log "using the binaries of $BUILD_DIR"
else
  build_tree "$BUILD_DIR" Release -DSLUICE_BUILD_TESTS=OFF
fi

mkdir -p "$VAR/log"
chmod 755 "$VAR"

if [ -z "${SLUICE_DB:-}" ]; then
  if [ "$PG_STATE" != "$VAR" ]; then
    # Traversable by postgres whatever the umask; a parent named by
    # SLUICE_PG_STATE is the caller's to make reachable.
    [ -n "${SLUICE_PG_STATE:-}" ] || install -d -m 755 /var/lib/sluice-quickstart
    install -d -m 755 "$PG_STATE"
    echo "$SLUICE_ROOT" > "$PG_STATE/checkout"
  fi
  log "PostgreSQL data directory: $PG_DATA"
  pg_start "$PG_DATA" "$PG_PORT" "$PG_STATE/pgsock"
  PG_STARTED=1
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='sluice'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE sluice"
  fi
  export SLUICE_DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=sluice"
fi

# The admin token lives in var/ so that every run prints the same one.
if [ ! -s "$VAR/admin-token" ]; then
  (umask 077; openssl rand -hex 24 > "$VAR/admin-token")
fi
export SLUICE_ADMIN_TOKEN="$(cat "$VAR/admin-token")"

log "starting sluice-controller (log: $VAR/log/controller.log)"
"$BUILD_DIR/controller/sluice-controller" --db "$SLUICE_DB" --http "$HTTP" \
  --agents "$AGENTS" --metrics "$METRICS_CTL" --migrations "$SLUICE_ROOT/migrations" \
  >>"$VAR/log/controller.log" 2>&1 &
PIDS+=($!)
wait_for "controller" 30 curl -sf "http://$HTTP/readyz" ||
  { tail -20 "$VAR/log/controller.log" >&2; die "the controller did not become ready (log above)"; }

log "starting sluice-agent (log: $VAR/log/agent.log)"
"$BUILD_DIR/agent/sluice-agent" --controller "$AGENTS" --socket "$SOCKET" \
  --metrics "$METRICS_AGENT" >>"$VAR/log/agent.log" 2>&1 &
PIDS+=($!)
wait_for "agent" 30 redis-cli -s "$SOCKET" PING ||
  { tail -20 "$VAR/log/agent.log" >&2; die "the agent did not start (log above)"; }

# The demo rule: 5 checks a second per client. 409 means it exists already.
code="$(curl -s -o "$VAR/log/demo-rule.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"demo-per-client","domain":"api","match":{"client_id":"*"},"limit":5,"period":"1s"}' \
  "http://$HTTP/api/v1/rules")"
case "$code" in
  201|409) ;;
  *) cat "$VAR/log/demo-rule.json" >&2; die "creating the demo rule failed with HTTP $code" ;;
esac

if [ "$MODE" = check ]; then
  # The demo rule reaches the agent within a second; then one decision.
  rule_at_agent() {
    local reply
    mapfile -t reply < <(redis-cli -s "$SOCKET" RL.CHECK api 0 client_id quickstart-check)
    [ "${reply[1]:-}" = 5 ]
  }
  wait_for "the demo rule at the agent" 15 rule_at_agent ||
    die "the agent never applied the demo rule (logs in $VAR/log/)"
  mapfile -t reply < <(redis-cli -s "$SOCKET" RL.CHECK api 1 client_id quickstart-check)
  [ "${reply[0]:-}" = 1 ] && [ "${reply[1]:-}" = 5 ] ||
    die "RL.CHECK api 1 client_id quickstart-check answered '${reply[*]:-}', expected 1 (allowed) and limit 5"
  log "quickstart check passed: the demo rule decides (reply ${reply[*]})"
  exit 0
fi

cat <<INFO

  Sluice is running.

  Dashboard and API   http://$HTTP/          (API under http://$HTTP/api/v1)
  Admin token         $SLUICE_ADMIN_TOKEN
  Metrics             http://$METRICS_CTL/metrics (controller), http://$METRICS_AGENT/metrics (agent)
  Logs                $VAR/log/

  Try the demo rule (5 checks a second per client):
    redis-cli -s $SOCKET RL.CHECK api 1 client_id 42

  List the rules:
    curl -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" http://$HTTP/api/v1/rules

  Press Ctrl-C to stop everything.

INFO

# Stay in the foreground until Ctrl-C or until a daemon exits.
wait -n "${PIDS[@]}" || true
log "a daemon exited; see $VAR/log/"
