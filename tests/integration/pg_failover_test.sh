#!/usr/bin/env bash
# PostgreSQL's own failover under a running controller (docs/
# high-availability.md, "PostgreSQL's own failover"): a primary and a
# streaming standby, the controller given both with
# target_session_attrs=read-write. The primary is stopped and the standby
# promoted; the controller, never restarted, carries on: /readyz answers
# 200 again and a rule created through the REST API lands on the promoted
# server, next to the one created before. Prints how long that took.
#
#   pg_failover_test.sh SLUICE_CONTROLLER_BINARY
#
# Both servers and the controller are private to the test, on loopback,
# bounded in time, and stopped by PID (the servers by their data
# directories) also on failure.
set -euo pipefail
CONTROLLER="$(realpath "$1")"
source "$(dirname "$0")/../../deploy/lib.sh"

WORK="$(mktemp -d /tmp/sluice-pg-failover.XXXXXX)"
chmod 755 "$WORK"
CONTROLLER_PID=""
cleanup() {
  local rc=$?
  [ -z "$CONTROLLER_PID" ] || kill "$CONTROLLER_PID" 2>/dev/null || true
  [ -z "$CONTROLLER_PID" ] || wait "$CONTROLLER_PID" 2>/dev/null || true
  pg_stop "$WORK/primary"
  pg_stop "$WORK/standby"
  [ $rc -eq 0 ] || tail -30 "$WORK/controller.log" >&2 || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

P1="$(free_port)"; P2="$(free_port)"; HTTP="$(free_port)"; AGENTS="$(free_port)"
TOKEN="pg-failover-admin-token-0123456789abcdef"
BIN="$(pg_bindir)"
sql() {  # sql PORT STATEMENT
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2"
}
api() {  # api METHOD PATH [BODY]: prints the HTTP status, body to $WORK/body
  curl -s -m 5 -o "$WORK/body" -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://127.0.0.1:$HTTP$2" || echo 000
}
rule() {  # rule NAME: a rule's JSON
  printf '{"name":"%s","domain":"failover","match":{"client_id":"*"},"limit":10,"period":"1s","burst":10,"mode":"enforce","failure_mode":"local","enabled":true}' "$1"
}
ready() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/readyz")" = 200 ]; }

pg_start "$WORK/primary" "$P1" "$WORK/sock1" fast
log "copying the primary into a streaming standby (pg_basebackup)"
mkdir -m 700 "$WORK/standby"
[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$WORK/standby"
pg_run "$BIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres \
  -D "$WORK/standby" -R -X stream --no-sync
pg_start "$WORK/standby" "$P2" "$WORK/sock2" fast
[ "$(sql "$P2" 'SELECT pg_is_in_recovery()')" = t ] || die "the standby is not in recovery"

SLUICE_ADMIN_TOKEN="$TOKEN" "$CONTROLLER" \
  --db "host=127.0.0.1,127.0.0.1 port=$P1,$P2 user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2" \
  --http "127.0.0.1:$HTTP" --agents "tcp://127.0.0.1:$AGENTS" \
  >"$WORK/controller.log" 2>&1 &
CONTROLLER_PID=$!
wait_for "the controller is ready" 60 ready || die "the controller did not become ready within 60 s"

status="$(api POST /api/v1/rules "$(rule before-failover)")"
[ "$status" = 201 ] || die "creating a rule on the primary answered $status: $(cat "$WORK/body")"
replicated() { [ "$(sql "$P2" "SELECT count(*) FROM rules WHERE name = 'before-failover'")" = 1 ]; }
wait_for "the standby has the rule" 30 replicated ||
  die "the standby did not replicate the rule within 30 s"

log "stopping the primary, promoting the standby"
pg_stop "$WORK/primary"
START=$(date +%s%N)
pg_run "$BIN/pg_ctl" -D "$WORK/standby" -w -t 30 promote >/dev/null
created() { [ "$(api POST /api/v1/rules "$(rule after-failover)")" = 201 ]; }
wait_for "a rule is created after the failover" 30 created ||
  die "no rule could be created within 30 s of the promotion (last answer: $(cat "$WORK/body"))"
wait_for "the controller is ready" 30 ready || die "/readyz did not answer 200 within 30 s of the promotion"
END=$(date +%s%N)
kill -0 "$CONTROLLER_PID" || die "the controller exited"

[ "$(sql "$P2" "SELECT count(*) FROM rules WHERE name IN ('before-failover', 'after-failover')")" = 2 ] ||
  die "the promoted server does not hold both rules"
[ "$(api GET /api/v1/rules)" = 200 ] || die "listing rules failed after the failover"
grep -q after-failover "$WORK/body" || die "the rules list lacks the rule created after the failover"
echo "the controller (pid $CONTROLLER_PID, never restarted) wrote to the promoted standby $(( (END - START) / 1000000 )) ms after the promotion began"
