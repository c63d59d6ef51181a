#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL, runs every
# test with ctest, and stops everything it started, also on failure.
# Exit status: non-zero when anything failed.
#
#   deploy/test.sh              # everything
#   deploy/test.sh -R rest_api  # extra arguments go to ctest
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD_DIR="${SLUICE_TEST_BUILD_DIR:-$SLUICE_ROOT/build/test}"
WORK="$(mktemp -d /tmp/sluice-test.XXXXXX)"
chmod 755 "$WORK"
PG_DATA="$WORK/pg"
PG_SOCK="$WORK/pgsock"

cleanup() {
  local rc=$?
  pg_stop "$PG_DATA"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_deps
build_tree "$BUILD_DIR" Debug -DSLUICE_WERROR=ON

PG_PORT="$(free_port)"
pg_start "$PG_DATA" "$PG_PORT" "$PG_SOCK" fast
export SLUICE_TEST_DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"

log "running tests"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 300 -j2 "$@"
