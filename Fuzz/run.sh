#!/usr/bin/env bash
# Builds both fuzzers (Fuzz/build.sh) and runs each for a bounded number of executions, one
# process at a time (no -jobs/-workers parallelism). Exits non-zero if either fuzzer finds a crash,
# a Swift trap, an ASan/LSan report, a timeout or an out-of-memory; the failing input is left in
# .build-fuzz/artifacts-<name>/ (crash-*, leak-*, timeout-*, oom-*).
#
# Usage: Fuzz/run.sh [http_runs] [image_runs]     defaults: 20000 2000 (well under a minute each)
#   SKIP_BUILD=1 Fuzz/run.sh ...   reuse the binaries already in .build-fuzz/
# The checked-in seed corpora (Fuzz/corpus/*) are only read; new inputs go to
# .build-fuzz/corpus-run-<name>/, which is recreated on every run.
set -uo pipefail
cd "$(dirname "$0")/.."
HTTP_RUNS=${1:-20000}
IMAGE_RUNS=${2:-2000}
OUT=.build-fuzz
MAX_TIME=${MAX_TIME:-120}   # hard cap per fuzzer, seconds

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    Fuzz/build.sh all 2>&1 | grep -v "Cannot export local symbol" || true
    [[ -x $OUT/http-fuzzer && -x $OUT/image-fuzzer ]] || { echo "build failed" >&2; exit 2; }
fi

status=0
run_one() { # name binary runs max_len seeds
    local name=$1 bin=$2 runs=$3 max_len=$4 seeds=$5
    local work="$OUT/corpus-run-$name" artifacts="$OUT/artifacts-$name/"
    rm -rf "$work"; mkdir -p "$work" "$artifacts"
    echo "== $name: $runs runs, max_len $max_len"
    "$bin" -runs="$runs" -max_len="$max_len" -max_total_time="$MAX_TIME" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$work" "$seeds" > "$OUT/run-$name.log" 2>&1
    local rc=$?
    grep -E "^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)" \
        "$OUT/run-$name.log" || true
    if [[ $rc -ne 0 ]] || grep -qE "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|Fatal error|SUMMARY: " \
        "$OUT/run-$name.log"; then
        echo "!! $name FAILED (exit $rc); log: $OUT/run-$name.log" >&2
        grep -E "ERROR:|Fatal error|SUMMARY:|Test unit written|artifact_prefix" "$OUT/run-$name.log" | head -20 >&2
        status=1
    else
        echo "ok: $name"
    fi
}

run_one http "$OUT/http-fuzzer" "$HTTP_RUNS" 4096 Fuzz/corpus/http
run_one image "$OUT/image-fuzzer" "$IMAGE_RUNS" 65536 Fuzz/corpus/images
exit $status
