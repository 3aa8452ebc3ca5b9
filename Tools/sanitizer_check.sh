#!/usr/bin/env bash
# Builds the package with AddressSanitizer (with LeakSanitizer) or ThreadSanitizer and runs the
# integration suites (HTTP server, service, the CLI binary incl. the hostile-client suite) under it.
# Not part of the test command: a debug build with a sanitizer takes several minutes to build and
# runs inference many times slower. Results are recorded in Docs/sanitizers.md.
#
#   bash Tools/sanitizer_check.sh address|thread [extra swift test args]
set -euo pipefail
cd "$(dirname "$0")/.."
SAN="${1:?address or thread}"
shift
SCRATCH=".build-$SAN"
swift build --build-tests --sanitize="$SAN" --scratch-path "$SCRATCH"
export RCNN_FIXTURES="${RCNN_FIXTURES:-$PWD/.cache/fixtures}"
# Detections take tens of seconds in a sanitized debug build.
export RCNN_TEST_DETECT_TIMEOUT=900
# Reports go to files (one per process: the test runner and every `rcnn` child the CLI tests start,
# whose standard error the tests consume), collected at the end.
REPORTS="/tmp/rcnn-sanitizer-$SAN"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
case "$SAN" in
    address) export ASAN_OPTIONS="detect_leaks=1:halt_on_error=0:abort_on_error=0:log_path=$REPORTS/report" ;;
    thread) export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$REPORTS/report" ;;
esac
status=0
swift test --sanitize="$SAN" --scratch-path "$SCRATCH" --skip-build \
    --filter "HTTPTests|ServiceTests|CLITests" "$@" 2>&1 | tee "$REPORTS.log" || status=$?
echo "test status $status; sanitizer reports in $REPORTS:"
grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer' "$REPORTS"/report.* 2>/dev/null || echo "none"
exit $status
