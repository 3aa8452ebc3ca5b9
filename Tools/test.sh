#!/usr/bin/env bash
# The project's test command: sets up the Python reference environment (.venv), generates the
# torch/torchvision reference fixtures (cached by fingerprint under .cache/fixtures), then runs the
# Swift test suites. Tests run in release mode: the parity suites push full-size images through
# ResNet-50 models, which takes minutes in a debug build and seconds in release.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup_python.sh
FIXTURES="${RCNN_FIXTURES:-.cache/fixtures}"
.venv/bin/python Tests/Parity/make_op_fixtures.py --out "$FIXTURES/ops"
.venv/bin/python Tests/Parity/make_fixtures.py --out "$FIXTURES"
.venv/bin/python Tests/Parity/make_default_model_fixture.py --out "$FIXTURES"
.venv/bin/python Tests/Import/make_import_fixtures.py --out "$FIXTURES"
export RCNN_FIXTURES="$(cd "$FIXTURES" && pwd)"
# A brief fuzzing pass of the HTTP parser and the image decoders (libFuzzer + AddressSanitizer);
# the long runs and their results are in Fuzz/README.md.
bash Fuzz/run.sh 20000 2000
LOG_DIR="$(mktemp -d)"
trap 'rm -rf "$LOG_DIR"' EXIT
swift test -c release -Xswiftc -enable-testing "$@" 2>&1 | tee "$LOG_DIR/release.log"
# Arguments (a --filter, say) mean a developer's partial run: the passes below are for the full one.
[ "$#" -eq 0 ] || exit 0
# A short structure-aware fuzzing pass of every endpoint against the real server binary (the tests
# build it too; the build line, with the test build's flags, only makes sure it exists). Long runs
# and the options: Fuzz/README.md.
swift build -c release -Xswiftc -enable-testing --product rcnn
python3 Fuzz/endpoints/test_oracle.py
python3 Fuzz/endpoints/fuzz_endpoints.py --binary .build/release/rcnn --count 20000 --seed "${RCNN_FUZZ_SEED:-1}"
# The image from the real Dockerfile, built with podman on local stand-in base images and checked as
# a user would, including a build that imports a checkpoint served over loopback HTTP (about 7
# minutes on 2 cores from nothing, 2.5 with the base images made). RCNN_SKIP_CONTAINER=1 leaves it
# out of a developer's run; CI always runs it.
if [ "${RCNN_SKIP_CONTAINER:-0}" != 1 ] || [ "${CI:-}" = true ]; then bash Tools/container_check.sh; fi
# The client-input suites and a fuzzing pass again in a debug build, where overflow checks and
# preconditions are live.
RCNN_TEST_LOG="$LOG_DIR/debug.log" bash Tools/test_debug.sh
# One closing line for both XCTest runs (each run's last "Executed N tests, with F failures").
totals() { grep -E '^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?' "$1" | tail -n 1 | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1 \2/'; }
read -r rt rf < <(totals "$LOG_DIR/release.log")
read -r dt df < <(totals "$LOG_DIR/debug.log")
echo "release build: $((rt - rf)) passed, $rf failed; debug build: $((dt - df)) passed, $df failed"
echo "$((rt + dt - rf - df)) passed, $((rf + df)) failed"
