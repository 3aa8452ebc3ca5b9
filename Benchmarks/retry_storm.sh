#!/usr/bin/env bash
# The cost of saying no (not a test): starts `rcnn serve` on a loopback port with the embedded
# default model and the default scheduling (2 workers, queue 8), then posts a sample JPEG
#   1. from 2 clients, one per worker, each request after the last (the capacity nobody contends for), and
#   2. from 16 clients that retry at once after every 503 (more than the 10 slots admission has),
# each for SECONDS, with Tests/Hostile/flood.py. Prints both runs' accepted detections per second,
# their ratio, the 503 rate, how many refusals came before the upload, the server's CPU and its
# peak memory.
#
#   bash Benchmarks/retry_storm.sh [path/to/rcnn] [seconds] [image]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.build/release/rcnn}"
SECS="${2:-30}"
IMAGE="${3:-Samples/shapes_val_0000.jpg}"
PORT=18432
RCNN_ACCESS_LOG=0 "$BIN" serve --host 127.0.0.1 --port "$PORT" 2>/tmp/rcnn-retry-storm.log &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
run() { python3 Tests/Hostile/flood.py --port "$PORT" --pid "$PID" --image "$IMAGE" --seconds "$SECS" --rss-bound-mb 1000 "$@"; }
one=$(run --clients 2 --baseline | tee /dev/stderr | grep '^flood:')
many=$(run --clients 16 | tee /dev/stderr | grep '^flood:')
rate() { sed -E 's/.*\(([0-9.]+)\/s accepted\).*/\1/' <<<"$1"; }
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'accepted: 2 clients {a:.2f}/s, 16 retrying clients {b:.2f}/s ({b / a:.2f}x)')" "$(rate "$one")" "$(rate "$many")"
