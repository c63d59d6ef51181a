#!/usr/bin/env bash
# deploy/quickstart.sh from a fresh clone in a 0700 directory, twice: the
# second run must reuse the first one's state (same admin token, same
# database, the demo rule already there). Uses `quickstart.sh --check`
# (start, one decision on the demo rule, stop) and this build's binaries
# (SLUICE_PREBUILT) so that it builds nothing.
#
#   tests/deploy/quickstart_test.sh BUILD_DIR [root|sudo-user]
#
# root (the default): as root, from a clone in a 0700 directory that
# PostgreSQL's user cannot reach. sudo-user (needs root to set up): as a
# throwaway ordinary user with passwordless sudo, from a clone in that
# user's 0700 home directory; the user and its home are removed afterwards.
#
# Bounded: each run under `timeout`; whatever is left is stopped by process
# group, and the clone and PostgreSQL's data directory are removed.
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
AS="${2:-root}"
SOURCE="$(cd "$(dirname "$0")/../.." && pwd)"
source "$SOURCE/deploy/lib.sh"

case "$AS" in
  root|sudo-user) ;;
  *) die "unknown mode '$AS'; use root or sudo-user" ;;
esac
[ "$(id -u)" -eq 0 ] || die "quickstart_test.sh sets up its scenario as root; run it as root"

WORK="$(mktemp -d /tmp/sluice-quickstart-test.XXXXXX)"  # mode 0700
CLONE="$WORK/checkout/sluice"
PG_DATA=""
RUN_PID=""
QS_USER=""
SUDOERS=""

cleanup() {
  local rc=$?
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM -- "-$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    if [ -n "$QS_USER" ]; then  # the user's own server: stop it by its PID
      kill -INT "$(head -1 "$PG_DATA/postmaster.pid")" 2>/dev/null || true
      sleep 1
    else
      pg_stop "$PG_DATA"
    fi
  fi
  # The state directory quickstart made for this clone (not SLUICE_PG_STATE).
  if [ -n "$PG_DATA" ] && [[ "$PG_DATA" == /var/lib/sluice-quickstart/*/pg ]]; then
    rm -rf "$(dirname "$PG_DATA")"
    rmdir --ignore-fail-on-non-empty /var/lib/sluice-quickstart 2>/dev/null || true
  fi
  rm -rf "$WORK"
  [ -n "$SUDOERS" ] && rm -f "$SUDOERS"
  if [ -n "$QS_USER" ]; then
    pkill -KILL -u "$QS_USER" 2>/dev/null || true
    userdel -r "$QS_USER" 2>/dev/null || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "quickstart_test: $*" >&2; exit 1; }

# "${AS_USER[@]}" CMD...: runs CMD as the quickstart's user (root, or the
# test user with the quickstart's settings in its environment).
AS_USER=()
if [ "$AS" = sudo-user ]; then
  command -v sudo >/dev/null || die "sudo is not installed (deploy/lib.sh installs it)"
  QS_USER="sluice-qs-$$"
  # The home directory is the 0700 folder the checkout lives in.
  chmod 755 "$WORK"
  useradd --create-home --home-dir "$WORK/checkout" --shell /bin/bash "$QS_USER"
  SUDOERS="/etc/sudoers.d/$QS_USER"
  (umask 0337; echo "$QS_USER ALL=(ALL) NOPASSWD: ALL" > "$SUDOERS")
  runuser -u "$QS_USER" -- sudo -n true || fail "sudo does not work for $QS_USER"
  # This build's binaries, where the user can run them.
  mkdir -p "$WORK/prebuilt/controller" "$WORK/prebuilt/agent"
  cp "$BUILD_DIR/controller/sluice-controller" "$WORK/prebuilt/controller/"
  cp "$BUILD_DIR/agent/sluice-agent" "$WORK/prebuilt/agent/"
  chmod -R a+rX "$WORK/prebuilt"
  BUILD_DIR="$WORK/prebuilt"
fi
set_user_prefix() {
  [ -n "$QS_USER" ] || return 0
  AS_USER=(runuser -u "$QS_USER" -- env HOME="$WORK/checkout"
    SLUICE_PREBUILT="$SLUICE_PREBUILT" SLUICE_PG_PORT="$SLUICE_PG_PORT"
    SLUICE_HTTP="$SLUICE_HTTP" SLUICE_AGENTS="$SLUICE_AGENTS"
    SLUICE_CONTROLLER_METRICS="$SLUICE_CONTROLLER_METRICS"
    SLUICE_AGENT_METRICS="$SLUICE_AGENT_METRICS")
}
mkdir -p "$WORK/checkout"
chmod 700 "$WORK/checkout"
git clone -q "$SOURCE" "$CLONE"
# Test the scripts of this working tree, committed or not.
cp "$SOURCE/deploy/quickstart.sh" "$SOURCE/deploy/lib.sh" "$CLONE/deploy/"
[ -n "$QS_USER" ] && chown -R "$QS_USER:$QS_USER" "$WORK/checkout"

export SLUICE_PREBUILT="$BUILD_DIR"
export SLUICE_PG_PORT="$(free_port)"
export SLUICE_HTTP="127.0.0.1:$(free_port)"
export SLUICE_AGENTS="tcp://127.0.0.1:$(free_port)"
export SLUICE_CONTROLLER_METRICS="127.0.0.1:$(free_port)"
export SLUICE_AGENT_METRICS="127.0.0.1:$(free_port)"
unset SLUICE_DB SLUICE_VAR SLUICE_PG_STATE
set_user_prefix

PG_DATA="$("${AS_USER[@]}" "$CLONE/deploy/quickstart.sh" --where | sed -n 's/^postgresql data: //p')"
[ -n "$PG_DATA" ] || fail "quickstart.sh --where printed no data directory"
if [ "$AS" = sudo-user ]; then
  runuser -u postgres -- test -x "$CLONE" 2>/dev/null &&
    fail "postgres can reach $CLONE: the test would not cover a 0700 home directory"
  [ "$PG_DATA" = "$CLONE/var/pg" ] ||
    fail "as an ordinary user the data directory should be $CLONE/var/pg, got $PG_DATA"
else
  runuser -u postgres -- test -x "$CLONE" 2>/dev/null &&
    fail "postgres can reach $CLONE: the test would not cover a 0700 checkout"
  [[ "$PG_DATA" == /var/lib/sluice-quickstart/*/pg ]] ||
    fail "as root the data directory should be under /var/lib/sluice-quickstart, got $PG_DATA"
  [ ! -e "$PG_DATA" ] || fail "$PG_DATA exists before the first run"
fi

run_check() {  # run_check N: one `quickstart.sh --check`, output in $WORK/runN.log
  local log="$WORK/run$1.log"
  (cd "$WORK/checkout" && exec "${AS_USER[@]}" setsid timeout 120 "$CLONE/deploy/quickstart.sh" --check) >"$log" 2>&1 &
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
if [ -n "$QS_USER" ]; then
  [ "$(stat -c %U "$PG_DATA")" = "$QS_USER" ] || fail "$PG_DATA is not owned by $QS_USER"
fi
echo "quickstart_test: two runs as $AS from a 0700 checkout passed; data in $PG_DATA"
