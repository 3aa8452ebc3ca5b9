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
export RCNN_FIXTURES="$(cd "$FIXTURES" && pwd)"
# A brief fuzzing pass of the HTTP parser and the image decoders (libFuzzer + AddressSanitizer);
# the long runs and their results are in Fuzz/README.md.
bash Fuzz/run.sh 20000 2000
swift test -c release -Xswiftc -enable-testing "$@"
# A short structure-aware fuzzing pass of every endpoint against the real server binary (the tests
# build it too; the build line, with the test build's flags, only makes sure it exists). Long runs
# and the options: Fuzz/README.md.
swift build -c release -Xswiftc -enable-testing --product rcnn
python3 Fuzz/endpoints/test_oracle.py
python3 Fuzz/endpoints/fuzz_endpoints.py --binary .build/release/rcnn --count 20000 --seed "${RCNN_FUZZ_SEED:-1}"
