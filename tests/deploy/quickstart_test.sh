#!/usr/bin/env bash
# deploy/quickstart.sh from a fresh clone in a 0700 directory (as root: the
# case where PostgreSQL's user cannot reach the checkout), twice: the second
# run must reuse the first one's state (same admin token, same database, the
# demo rule already there). Uses `quickstart.sh --check` (start, one
# decision on the demo rule, stop) and this build's binaries
# (SLUICE_PREBUILT) so that it builds nothing.
#
#   tests/deploy/quickstart_test.sh BUILD_DIR
#
# Bounded: each run under `timeout`; whatever is left is stopped by process
# group, and the clone and PostgreSQL's data directory are removed.
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
SOURCE="$(cd "$(dirname "$0")/../.." && pwd)"
source "$SOURCE/deploy/lib.sh"

WORK="$(mktemp -d /tmp/sluice-quickstart-test.XXXXXX)"  # mode 0700
CLONE="$WORK/checkout/sluice"
PG_DATA=""
RUN_PID=""

cleanup() {
  local rc=$?
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM -- "-$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then pg_stop "$PG_DATA"; fi
  # The state directory quickstart made for this clone (not SLUICE_PG_STATE).
  if [ -n "$PG_DATA" ] && [[ "$PG_DATA" == /var/lib/sluice-quickstart/*/pg ]]; then
    rm -rf "$(dirname "$PG_DATA")"
    rmdir --ignore-fail-on-non-empty /var/lib/sluice-quickstart 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "quickstart_test: $*" >&2; exit 1; }

mkdir -p "$WORK/checkout"
chmod 700 "$WORK" "$WORK/checkout"
git clone -q "$SOURCE" "$CLONE"
# Test the scripts of this working tree, committed or not.
cp "$SOURCE/deploy/quickstart.sh" "$SOURCE/deploy/lib.sh" "$CLONE/deploy/"

export SLUICE_PREBUILT="$BUILD_DIR"
export SLUICE_PG_PORT="$(free_port)"
export SLUICE_HTTP="127.0.0.1:$(free_port)"
export SLUICE_AGENTS="tcp://127.0.0.1:$(free_port)"
export SLUICE_CONTROLLER_METRICS="127.0.0.1:$(free_port)"
export SLUICE_AGENT_METRICS="127.0.0.1:$(free_port)"
unset SLUICE_DB SLUICE_VAR SLUICE_PG_STATE

PG_DATA="$("$CLONE/deploy/quickstart.sh" --where | sed -n 's/^postgresql data: //p')"
[ -n "$PG_DATA" ] || fail "quickstart.sh --where printed no data directory"
if [ "$(id -u)" -eq 0 ]; then
  runuser -u postgres -- test -x "$CLONE" 2>/dev/null &&
    fail "postgres can reach $CLONE: the test would not cover a 0700 checkout"
  [[ "$PG_DATA" == /var/lib/sluice-quickstart/*/pg ]] ||
    fail "as root the data directory should be under /var/lib/sluice-quickstart, got $PG_DATA"
  [ ! -e "$PG_DATA" ] || fail "$PG_DATA exists before the first run"
fi

run_check() {  # run_check N: one `quickstart.sh --check`, output in $WORK/runN.log
  local log="$WORK/run$1.log"
  (cd "$WORK" && exec setsid timeout 120 "$CLONE/deploy/quickstart.sh" --check) >"$log" 2>&1 &
  RUN_PID=$!
  if ! wait "$RUN_PID"; then
    RUN_PID=""
    tail -40 "$log" >&2
    fail "run $1 of quickstart.sh --check failed (log above)"
  fi
  RUN_PID=""
  grep -q "quickstart check passed" "$log" || { tail -20 "$log" >&2; fail "run $1: no passed line"; }
}

run_check 1
grep -q "creating PostgreSQL cluster in $PG_DATA" "$WORK/run1.log" || fail "run 1 did not create its cluster in $PG_DATA"
[ -f "$PG_DATA/PG_VERSION" ] || fail "no cluster in $PG_DATA after run 1"
token1="$(cat "$CLONE/var/admin-token")"
pgrep -f "$CLONE" >/dev/null && fail "run 1 left processes behind: $(pgrep -af "$CLONE")"

run_check 2
grep -q "creating PostgreSQL cluster" "$WORK/run2.log" && fail "run 2 created a new cluster instead of reusing $PG_DATA"
[ "$(cat "$CLONE/var/admin-token")" = "$token1" ] || fail "run 2 changed the admin token"
# The demo rule was kept in the database: run 2 got 409 for it, and there
# is still exactly one.
grep -q '"already_exists"' "$CLONE/var/log/demo-rule.json" ||
  fail "run 2 did not find the demo rule of run 1: $(cat "$CLONE/var/log/demo-rule.json")"
echo "quickstart_test: two runs from a 0700 checkout passed; data in $PG_DATA"
