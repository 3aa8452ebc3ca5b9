#!/usr/bin/env bash
# Load check of the detect route (not a test): starts `rcnn serve` on a loopback port with the
# embedded default model, drives it with wrk (32 connections, 30 s, POST of a sample JPEG), and
# prints throughput, latency percentiles, errors by status, and the server's resident memory
# before and after. With RSS_EVERY=N it also prints the server's resident memory every N seconds
# during the run (the soak: `RSS_EVERY=60 bash Benchmarks/load_check.sh .build/release/rcnn 8 600`).
#
#   bash Benchmarks/load_check.sh [path/to/rcnn] [connections] [seconds]
#
# Environment: WORKERS (inference workers, default 2), RCNN_THREADS (BLAS threads per worker,
# default cores / workers), QUEUE_DEPTH (64), MODEL (a model config, default the embedded default
# model), IMAGE (the JPEG posted, default Samples/shapes_val_0000.jpg).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.build/release/rcnn}"
CONNS="${2:-32}"
SECS="${3:-30}"
PORT=18431
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
RCNN_ACCESS_LOG=0 "$BIN" serve --host 127.0.0.1 --port "$PORT" --model "${MODEL:-Config/models/shapes_mask_rcnn.json}" \
    --workers "${WORKERS:-2}" --queue-depth "${QUEUE_DEPTH:-64}" 2>/tmp/rcnn-load-server.log &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status"; }
echo "server RSS before: $(rss)"
cat > /tmp/rcnn-load.lua <<LUA
local f = io.open("${IMAGE:-Samples/shapes_val_0000.jpg}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/jpeg"
done = function(summary, latency, requests)
  io.write(string.format("requests %d in %.1f s: %.2f req/s\n", summary.requests, summary.duration / 1e6,
                         summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
                         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
                         latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d; non-2xx %d\n",
                         summary.errors.connect, summary.errors.read, summary.errors.write,
                         summary.errors.timeout, summary.errors.status))
end
LUA
if [ -n "${RSS_EVERY:-}" ]; then
    ( start=$(date +%s); while kill -0 $PID 2>/dev/null; do sleep "$RSS_EVERY"; echo "  t=$(( $(date +%s) - start )) s: server RSS $(rss)"; done ) &
    SAMPLER=$!
    trap 'kill $PID $SAMPLER 2>/dev/null || true' EXIT
fi
wrk -t 2 -c "$CONNS" -d "${SECS}s" --timeout 60s -s /tmp/rcnn-load.lua \
    "http://127.0.0.1:$PORT/v1/detect?score_threshold=0.3"
echo "server RSS after: $(rss)"
curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E '^rcnn_http_requests_total\{route="/v1/detect"' || true
