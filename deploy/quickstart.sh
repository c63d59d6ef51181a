#!/usr/bin/env bash
# Runs the whole Sluice stack on this machine, in the foreground:
# installs missing Debian packages, builds (Release), starts a private
# PostgreSQL under ./var/ (or uses $SLUICE_DB), a controller and one agent,
# creates a demo rule and prints how to use it. Ctrl-C stops everything it
# started. A second run reuses ./var/ (rules, token, database).
#
# Environment overrides: SLUICE_DB (use this database instead of a private
# one), SLUICE_HTTP (default 127.0.0.1:8080), SLUICE_AGENTS (default
# tcp://127.0.0.1:7070), SLUICE_PG_PORT (default 54329), SLUICE_VAR (./var).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VAR="${SLUICE_VAR:-$SLUICE_ROOT/var}"
BUILD_DIR="$SLUICE_ROOT/build/release"
HTTP="${SLUICE_HTTP:-127.0.0.1:8080}"
AGENTS="${SLUICE_AGENTS:-tcp://127.0.0.1:7070}"
METRICS_CTL="${SLUICE_CONTROLLER_METRICS:-127.0.0.1:9101}"
METRICS_AGENT="${SLUICE_AGENT_METRICS:-127.0.0.1:9102}"
PG_PORT="${SLUICE_PG_PORT:-54329}"
SOCKET="$VAR/agent.sock"
PIDS=()
PG_STARTED=""

stop_all() {
  trap - INT TERM EXIT
  # Whatever our output is piped into may be gone already (Ctrl-C reaches
  # the whole pipeline): never let a write kill the cleanup.
  trap '' PIPE
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$PG_STARTED" ] && pg_stop "$VAR/pg"
  log "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

install_deps
build_tree "$BUILD_DIR" Release -DSLUICE_BUILD_TESTS=OFF

mkdir -p "$VAR/log"
chmod 755 "$VAR"

if [ -z "${SLUICE_DB:-}" ]; then
  pg_start "$VAR/pg" "$PG_PORT" "$VAR/pgsock"
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
  --agents "$AGENTS" --metrics "$METRICS_CTL" >>"$VAR/log/controller.log" 2>&1 &
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
