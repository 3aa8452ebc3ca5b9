#!/usr/bin/env bash
# The suites where client input and file contents become numbers, run once more in a debug build.
# The main run is a release build, where -Ounchecked (the Tensor target) removes overflow checks
# and preconditions and -O keeps only some; here every arithmetic overflow, out-of-range index and
# failed precondition traps, so a test or a fuzzed request that reaches one fails loudly.
# Called by Tools/test.sh after the release run; RCNN_FIXTURES must be set as there.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build --filter 'ServiceTests|HTTPTests|DetectionTests|COCOTests|ImagingTests' 2>&1 | tee "${RCNN_TEST_LOG:-/dev/null}"
# Fuzzed requests against the debug server: a request that reaches an overflow traps here even
# where the release build would compute on silently.
python3 Fuzz/endpoints/fuzz_endpoints.py --binary .build/debug/rcnn --count 5000 --seed "${RCNN_FUZZ_SEED:-2}"
