#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL, runs every
# test with ctest, then fuzzes the RESP parser and command layer for a
# bounded time (tests/fuzz), and stops everything it started, also on
# failure. Exit status: non-zero when anything failed (a fuzzer crash too).
#
#   deploy/test.sh              # everything
#   deploy/test.sh -R rest_api  # extra arguments go to ctest
#   SLUICE_FUZZ_SECONDS=120 deploy/test.sh  # per fuzz target (default 30;
#                                           # 0 skips fuzzing)
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
# Prefix /usr: tests/deploy/package_test.py builds the Debian packages from
# this tree.
build_tree "$BUILD_DIR" Debug -DSLUICE_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr

PG_PORT="$(free_port)"
pg_start "$PG_DATA" "$PG_PORT" "$PG_SOCK" fast
export SLUICE_TEST_DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"

log "running tests"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 300 -j2 "$@"

# --- Fuzzing (tests/fuzz/README.md): a clang build of its own, each target
# run for SLUICE_FUZZ_SECONDS over a copy of its committed corpus. Inputs
# that reach new code are merged back into tests/fuzz/corpus/<target>
# (by edge coverage, -use_counters=0, so the corpus stays small); past
# FUZZ_CORPUS_MAX_FILES it is minimized afresh.
FUZZ_SECONDS="${SLUICE_FUZZ_SECONDS:-30}"
FUZZ_DIR="${SLUICE_FUZZ_BUILD_DIR:-$SLUICE_ROOT/build/fuzz}"
FUZZ_CORPUS_MAX_FILES=300
FUZZ_TARGETS=(resp_parser commands)

run_fuzzer() {
  local target="$1"
  local bin="$FUZZ_DIR/tests/fuzz/${target}_fuzz"
  local corpus="$SLUICE_ROOT/tests/fuzz/corpus/$target"
  local work="$WORK/fuzz-$target"
  local artifacts="$SLUICE_ROOT/build/fuzz-artifacts/$target"
  mkdir -p "$work/corpus" "$work/merged" "$artifacts" "$corpus"
  cp -r "$corpus"/. "$work/corpus/"
  log "fuzzing $target for ${FUZZ_SECONDS}s"
  if ! UBSAN_OPTIONS=print_stacktrace=1 "$bin" "$work/corpus" \
      -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=5 \
      -dict="$SLUICE_ROOT/tests/fuzz/resp.dict" -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$work/log" 2>&1; then
    tail -60 "$work/log" >&2
    die "fuzz target $target failed (a crash, sanitizer report, broken invariant, leak or timeout: log above); the input is in $artifacts/, reproduce with: $bin $artifacts/<file>"
  fi
  grep -E 'DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$work/log" >&2 || true
  local merge=(-merge=1 -use_counters=0 -max_len=4096)
  if [ "$(find "$corpus" -type f | wc -l)" -lt "$FUZZ_CORPUS_MAX_FILES" ]; then
    "$bin" "${merge[@]}" "$corpus" "$work/corpus" >"$work/merge.log" 2>&1 ||
      { tail -20 "$work/merge.log" >&2; die "merging the $target corpus failed"; }
  else
    "$bin" "${merge[@]}" "$work/merged" "$corpus" "$work/corpus" >"$work/merge.log" 2>&1 ||
      { tail -20 "$work/merge.log" >&2; die "minimizing the $target corpus failed"; }
    find "$corpus" -type f -delete
    cp -r "$work/merged"/. "$corpus/"
  fi
  log "$target corpus: $(find "$corpus" -type f | wc -l) files, $(du -sb "$corpus" | cut -f1) bytes"
}

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  pg_stop "$PG_DATA"  # not needed any more
  command -v clang++ >/dev/null || die "clang++ not found: install Debian's clang and libclang-rt-14-dev (deploy/lib.sh SLUICE_PACKAGES)"
  log "building the fuzz targets (clang: libFuzzer, ASan, UBSan) in $FUZZ_DIR"
  CC=clang CXX=clang++ cmake -S "$SLUICE_ROOT" -B "$FUZZ_DIR" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON >/dev/null
  cmake --build "$FUZZ_DIR" -j"$(nproc)" --target sluice_fuzzers
  for target in "${FUZZ_TARGETS[@]}"; do run_fuzzer "$target"; done
fi
