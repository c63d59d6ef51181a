#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL, runs every
# test with ctest, builds the daemons with clang's thread-safety analysis,
# then fuzzes the RESP parser, the command layer and the core's JSON readers
# for a bounded time (tests/fuzz), and stops everything it started, also on
# failure. Exit status: non-zero when anything failed (a fuzzer crash too).
#
#   deploy/test.sh              # everything
#   deploy/test.sh -R rest_api  # extra arguments go to ctest
#   SLUICE_FUZZ_SECONDS=120 deploy/test.sh  # per fuzz target (default 30;
#                                           # 0 skips fuzzing, not the
#                                           # clang build)
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
# Debug (assertions on) with line tables only (-g1): backtraces keep their
# files and lines, and the build takes a sixth less than with full
# debugging information.
build_tree "$BUILD_DIR" Debug -DSLUICE_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1

PG_PORT="$(free_port)"
pg_start "$PG_DATA" "$PG_PORT" "$PG_SOCK" fast
export SLUICE_TEST_DB="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"

# The Node example's packages (express, ioredis), pinned by its
# package-lock.json. Node 20 and its npm come with the machine image.
command -v npm >/dev/null || die "npm not found: install Node.js 20 with its npm (not Debian's npm package, which conflicts)"
log "installing the Node example's packages (npm ci)"
npm ci --prefix "$SLUICE_ROOT/examples/node" --no-audit --no-fund --loglevel=error >/dev/null
# The dashboard's browser tests: playwright-core drives Debian's Chromium
# (deploy/lib.sh installs it); it must never download a browser.
log "installing the dashboard tests' packages (npm ci)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$SLUICE_ROOT/tests/web" --no-audit --no-fund --loglevel=error >/dev/null

log "running tests"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 300 -j2 "$@"

# --- The clang build, in a directory of its own: the libraries and daemons
# with -Wthread-safety -Werror (the locking annotations of
# platform/thread_annotations.h are checked; any clang warning fails), and
# the fuzz targets. Nothing runs these daemons, so they are compiled
# without optimisation or debug information (build type "Analysis"), which
# costs 40 % less; the fuzz targets set their own -O2 -g.
#
# Fuzzing (tests/fuzz/README.md): each target runs for SLUICE_FUZZ_SECONDS
# over a copy of its committed corpus, with tests/fuzz/<target>.dict when
# there is one (else resp.dict). Inputs that reach new code are merged back
# into tests/fuzz/corpus/<target> (by edge coverage, -use_counters=0, so the
# corpus stays small); past FUZZ_CORPUS_MAX_FILES (the largest, wire, holds
# some 350 small inputs) it is minimized afresh.
FUZZ_SECONDS="${SLUICE_FUZZ_SECONDS:-30}"
FUZZ_DIR="${SLUICE_FUZZ_BUILD_DIR:-$SLUICE_ROOT/build/fuzz}"
FUZZ_CORPUS_MAX_FILES=500
FUZZ_TARGETS=(resp_parser commands wire)

run_fuzzer() {
  local target="$1"
  local bin="$FUZZ_DIR/tests/fuzz/${target}_fuzz"
  local corpus="$SLUICE_ROOT/tests/fuzz/corpus/$target"
  local work="$WORK/fuzz-$target"
  local artifacts="$SLUICE_ROOT/build/fuzz-artifacts/$target"
  local dict="$SLUICE_ROOT/tests/fuzz/resp.dict"  # the RESP targets
  if [ -f "$SLUICE_ROOT/tests/fuzz/$target.dict" ]; then
    dict="$SLUICE_ROOT/tests/fuzz/$target.dict"
  fi
  mkdir -p "$work/corpus" "$work/merged" "$artifacts" "$corpus"
  cp -r "$corpus"/. "$work/corpus/"
  log "fuzzing $target for ${FUZZ_SECONDS}s"
  if ! UBSAN_OPTIONS=print_stacktrace=1 "$bin" "$work/corpus" \
      -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=5 \
      -dict="$dict" -print_final_stats=1 \
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

pg_stop "$PG_DATA"  # not needed any more
command -v clang++ >/dev/null || die "clang++ not found: install Debian's clang and libclang-rt-14-dev (deploy/lib.sh SLUICE_PACKAGES)"
CLANG_TARGETS=(sluice-agent sluice-controller)
if [ "$FUZZ_SECONDS" -gt 0 ]; then CLANG_TARGETS+=(sluice_fuzzers); fi
log "clang build in $FUZZ_DIR: ${CLANG_TARGETS[*]} (-Wthread-safety -Werror; fuzz targets with libFuzzer, ASan, UBSan)"
CC=clang CXX=clang++ cmake -S "$SLUICE_ROOT" -B "$FUZZ_DIR" \
  -DCMAKE_BUILD_TYPE=Analysis -DCMAKE_CXX_FLAGS_ANALYSIS="-O0 -g0 -DNDEBUG" \
  -DSLUICE_FUZZ=ON -DSLUICE_WERROR=ON >/dev/null
cmake --build "$FUZZ_DIR" -j"$(nproc)" --target "${CLANG_TARGETS[@]}"

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  for target in "${FUZZ_TARGETS[@]}"; do run_fuzzer "$target"; done
fi
log "all tests passed"
